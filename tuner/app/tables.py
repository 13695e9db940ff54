"""The table `tuner train` prints: the model against the baselines on the test split, the blend, the intervals'
coverage, and what the gradients and the final epochs say."""

from __future__ import annotations

from ..data.baselines import versus
from ..evaluate.cv import gradient_warnings
from .origin import origin_line

FEW_EPOCHS = 3  # a final recipe shorter than this barely moves a model from where it started


def epochs_warning(epochs: int, cfg_epochs: int, what: str) -> list[str]:
    """Say when the final recipe is degenerate: the last fold stopped improving almost at once, so the final
    model is close to its start (ridge's fit with a highway, random weights without). A warning, not a floor:
    with a highway starting at ridge, one epoch can be what the folds measured as best."""
    if epochs >= min(FEW_EPOCHS, cfg_epochs):
        return []
    return [f"{what} trains {epochs} epoch{'s' if epochs > 1 else ''} only (its trial's last fold was best by "
            f"epoch {epochs}), so it is close to where it started; a study with patience = 0 and epochs in "
            f"[search] scores what the final model does (docs/final-models.md)"]


NAMES = {"rmse": "RMSE", "mae": "MAE", "smape": "sMAPE", "mase": "MASE"}  # the scores a table shows, in order


def score_rows(metrics: dict, cell: str) -> tuple[list[tuple[str, dict]], list[str], str]:
    """The table's rows (the model, with --combine the RNN alone, the baselines), the scores all of them have, and
    the one the study judges by."""
    combined = metrics.get("combined")
    name = f"{cell} + {' + '.join(combined['with'])}" if combined else f"{cell} (tuned)"
    rows = [(name, metrics["test"])] + ([(f"{cell} alone", combined["rnn_alone_test"])] if combined else []) \
        + list(metrics["baselines"].items())
    shown = [k for k in NAMES if all(k in r[1] for r in rows)]
    judged = {"mse": "rmse"}.get(metrics.get("metric", "mse"), metrics.get("metric", "mse"))
    return rows, shown, judged if judged in shown else "rmse"


def auto_line(auto: dict, cell: str) -> str:
    """How --combine auto chose: the choice, and each choice's out-of-fold score by the study's metric."""
    chosen = " + ".join([cell, *auto["chosen"]]) if auto["chosen"] else f"{cell} alone"
    scored = "; ".join(f"{' + '.join([cell, *k.split('+')]) if k else f'{cell} alone'} {v:.5g}"
                       for k, v in auto["out_of_fold"].items())
    metric = NAMES.get(auto["metric"], auto["metric"].upper())
    return f"--combine auto chose {chosen}, out of fold (validation {metric}: {scored})"


def partner_lines(metrics: dict, cell: str) -> list[str]:
    """What joined the model: statistical partners (--combine, how auto chose), the forecast from the test split's
    origin, and the blend with ridge."""
    lines = []
    if "combined" in metrics:
        lines.append(f"the forecast is the plain mean of the {cell}'s and {' and '.join(metrics['combined']['with'])}"
                     f"'s, each refitted at every window (--combine; statsforecast)")
    if "auto" in metrics:
        lines.append(auto_line(metrics["auto"], cell))
    if "origin" in metrics:
        lines.append(origin_line(metrics["origin"]))
    if "blend" in metrics:
        b = metrics["blend"]
        oof = b["out_of_fold_mse"]
        mses = "MSEs" if not metrics.get("series") else "MSEs (each error over its series' MASE scale)"
        lines.append(f"blended with {b.get('partner', 'ridge on its windows')}: the RNN's share {b['weight']:.2f}, "
                     f"inversely to the out-of-fold {mses} (RNN {oof['rnn']:.5g}, ridge {oof['ridge']:.5g}; blend "
                     f"{oof['blend']:.5g}); "
                     f"the RNN alone: RMSE {b['rnn_alone_test']['rmse']:.5g} (--no-blend)"
                     + ("; with a share of 0 the forecast is ridge's" if b["weight"] == 0 else ""))
    return lines


def comparison_table(metrics: dict, cell: str) -> str:
    rows, shown, judged = score_rows(metrics, cell)
    best = min(r[1][judged] for r in rows)
    model = metrics["model"]
    if "members" in model:
        how = f"the mean of {model['members']} configs' models, trained {model['epochs']} epochs"
    else:
        n = model.get("ensemble", 1)
        how = f"trained {model['epochs']} epochs" + (f" (mean of {n} models)" if n > 1 else "")
    lines = [f"held-out test split: {metrics['n_test']} windows; {how} on {metrics['n_train']} windows"]
    if "protocol" in metrics:
        lines.append(f"scored on {metrics['protocol']}" + ("; sMAPE and MASE are means over series"
                                                           if metrics.get("series") else ""))
    pad = max(16, *(len(r[0]) for r in rows))
    lines.append(f"{'model':<{pad}}" + "".join(f" {NAMES[k]:>12}" for k in shown))
    for name, s in rows:
        lines.append(f"{name:<{pad}}" + "".join(f" {s[k]:>12.5g}" for k in shown)
                     + ("  <- best" if s[judged] == best else ""))
    lines += partner_lines(metrics, cell)
    if "intervals" in metrics:
        iv = metrics["intervals"]
        width = ", ".join(f"{w:.4g}" for w in iv["width"][:6]) + (", ..." if len(iv["width"]) > 6 else "")
        if metrics.get("series"):
            width = f"({width}) x each series' MASE scale"
        if not iv.get("adaptive"):
            lines.append(f"{iv['coverage']:.0%} prediction intervals: forecast ± {width} (from {iv['residuals']} "
                         f"out-of-fold residuals); on the test split {iv['test_coverage']:.1%} of values fall inside")
        else:
            test_width = ", ".join(f"{w:.4g}" for w in iv["test_width"][:6])
            lines.append(f"{iv['coverage']:.0%} prediction intervals: forecast ± {width} at first (from "
                         f"{iv['residuals']} out-of-fold residuals), then adapting to the errors seen (gamma "
                         f"{iv['gamma']:g}; ± {test_width} on average)")
            lines.append(f"  on the test split {iv['test_coverage']:.1%} of values fall inside (at the nominal width "
                         f"throughout {iv['fixed_test_coverage']:.1%})")
    if "refit" in metrics:
        windows = metrics["refit"]["windows"]
        lines.append(f"saved: the same recipe refitted on every row, the test split included ({windows} windows; "
                     f"--refit): it forecasts from all the data, and the scores above are of the model that did not "
                     f"see the test split")
    if "members" not in model:
        lines += gradient_warnings(metrics.get("gradients", {}), "the final model", model["cell"])
        lines += epochs_warning(model["epochs"], model["configured_epochs"], "the final model")
    if metrics["baselines"]:
        lines.append(versus(metrics["test"][judged], {n: s[judged] for n, s in metrics["baselines"].items()},
                            NAMES[judged]))
    return "\n".join(lines)


__all__ = ["comparison_table", "epochs_warning", "score_rows"]
