"""What a run prints at the end: the study's counts, failures by reason, the best trial with its error bar
and per-fold scores, the baselines on the same folds, and where to go next."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
from optuna.trial import TrialState

from ..data.baselines import versus
from ..evaluate.cv import gradient_warnings, standard_error
from ..redact import mask
from ..tuning.liveness import counts
from ..tuning.runner import RunResult


def summary(result: RunResult) -> str:
    """What a user wants to see at the end: best trial with its error bar, baselines, where things are."""
    study, spec = result.study, result.spec
    trials = study.get_trials(deepcopy=False)
    states = Counter(t.state.name for t in trials)
    lines = [f"study {spec.name!r}: {len(trials)} trials ("
             + ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items())) + f"), this run {result.ran} in "
             f"{result.seconds:.1f}s"]
    reasons = Counter((_kind(t.user_attrs.get("fail_reason", "unknown")), counts(t))
                      for t in trials if t.state == TrialState.FAIL)
    for (reason, counted_), n in reasons.most_common():
        lines.append(f"  failed: {n} x {reason}" + ("" if counted_ else "   (not the parameters: not counted)"))
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        lines.append("no complete trial yet: nothing to report")
        return "\n".join(lines)
    best = study.best_trial
    metric = spec.metric.upper().replace("SMAPE", "sMAPE")
    folds = best.user_attrs.get("fold_score" if spec.metric != "mse" else "fold_mse", [])
    sem = best.user_attrs.get("score_sem" if spec.metric != "mse" else "mse_sem", 0)
    lines.append(f"best: trial {best.number}, validation {metric} {best.value:.5g} ± {sem:.2g} (mean ± standard error "
                 f"over {len(folds)} folds, {_protocol(spec)})")
    lines.append("  params: " + ", ".join(f"{k}={_fmt(v)}" for k, v in best.params.items()))
    lines.append("  per fold: " + ", ".join(f"{v:.5g}" for v in folds))
    baselines = best.user_attrs.get("baselines", {})
    for name, values in baselines.items():
        mean = float(np.mean(values))
        verdict = "RNN better" if best.values[0] < mean else "baseline better"
        lines.append(f"  baseline {name:<14} {mean:.5g} ± {standard_error(values):.2g}   ({verdict})")
    if baselines:
        lines.append("  " + versus(best.values[0], {n: float(np.mean(v)) for n, v in baselines.items()}, metric))
    cell = best.params.get("cell", spec.train.cell)
    for line in gradient_warnings(best.user_attrs, f"the best trial ({best.number})", cell):
        lines.append(f"  {line}")
    diagnosed = [t for t in complete if "vanishing_ratio" in t.user_attrs]
    vanished = sum(bool(gradient_warnings({"vanishing_ratio": t.user_attrs["vanishing_ratio"]})) for t in diagnosed)
    clipped = sum(bool(gradient_warnings({"clipped_fraction": t.user_attrs.get("clipped_fraction")}))
                  for t in diagnosed)
    if vanished or clipped:
        lines.append(f"  gradients: vanished in {vanished} and clipped most of the time in {clipped} of "
                     f"{len(diagnosed)} complete trials (attributes vanishing_ratio, clipped_fraction)")
    url = mask(result.storage)
    study_file = spec.path or f"studies/{spec.name}.toml"
    lines += [f"storage: {url}",
              f"dashboard: optuna-dashboard {url}",
              f"export: tuner export {study_file} -o runs/{spec.name}-best.toml --top 5   (as make export does)"]
    return "\n".join(lines)


def summary_json(result: RunResult) -> dict:
    """What summary() says, for scripts and CI: counts, failures by kind, the best trial, the baselines."""
    study, spec = result.study, result.spec
    trials = study.get_trials(deepcopy=False)
    states = Counter(t.state.name.lower() for t in trials)
    failures = Counter((_kind(t.user_attrs.get("fail_reason", "unknown")), counts(t))
                       for t in trials if t.state == TrialState.FAIL)
    out: dict = {"study": spec.name, "storage": mask(result.storage), "trials": len(trials), "states": dict(states),
                 "ran": result.ran, "seconds": round(result.seconds, 3), "stopped": bool(result.exit_code),
                 "failures": [{"reason": r, "count": n, "counted": c} for (r, c), n in failures.most_common()],
                 "best": None}
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if complete:
        best = study.best_trial
        baselines = {n: float(np.mean(v)) for n, v in best.user_attrs.get("baselines", {}).items()}
        out["best"] = {"trial": best.number, "metric": spec.metric, "value": best.value,
                       "sem": best.user_attrs.get("score_sem" if spec.metric != "mse" else "mse_sem"),
                       "fold_mse": best.user_attrs.get("fold_mse", []), "params": best.params,
                       "baselines": baselines}
    return out


def _protocol(spec) -> str:
    """What a validation score is of, in words: the windows scored and the units."""
    d = spec.data
    what = "one step ahead" if d.horizon == 1 else f"{d.horizon} steps ahead"
    units = "original units" if spec.metric == "mse" else "scale-free"
    panel = ", averaged over series" if d.series else ""
    return f"{what} from every validation window{panel}, {units}"


def _kind(reason: str) -> str:
    """What a failure was, without its details: "training diverged", not "training diverged at epoch 7: ..."."""
    reason = re.sub(r"its (Dask )?worker \S+ (died|left the cluster)", r"its \1worker \2", reason)  # no address
    return re.sub(r" at epoch \d+", "", reason.split(":")[0])


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
