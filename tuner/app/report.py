"""One self-contained HTML file about a study, for people who will not run a server.

Optuna's own plots (optimization history, parameter importances, parallel coordinates, intermediate values),
the per-fold scores of the best trials next to the baselines, and, when a trained model's metrics.json is
given, the test-split comparison with its intervals and the picture tuner train drew (forecast.png).
plotly.js and the picture are embedded, so the file opens offline.
"""

from __future__ import annotations

import base64
import html
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from .export import best_trials
from .tables import NAMES, score_rows


def _figures(study: optuna.Study) -> list[tuple[str, Any]]:
    vis = optuna.visualization
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    figs = [("Optimization history", vis.plot_optimization_history(study))]
    if len(complete) >= 2 and study.best_trial.params:
        try:
            with warnings.catch_warnings():  # "few trials in a regime": true, and the plot says as much
                warnings.simplefilter("ignore")
                figs.append(("Parameter importances", vis.plot_param_importances(study)))
        except (RuntimeError, ValueError):  # e.g. every trial has the same params: no importance to show
            pass
        figs.append(("Parallel coordinates", vis.plot_parallel_coordinate(study)))
    figs.append(("Intermediate values (step = epoch, the mean over folds)", vis.plot_intermediate_values(study)))
    return figs


def _gradient_figures(trials: list) -> list[tuple[str, Any]]:
    """The best trials' gradient-flow profiles (bottom layer, relative to the last step, log scale) and their
    global gradient norm per epoch (median over batches; the largest dotted)."""
    import plotly.graph_objects as go

    with_flow = [t for t in trials if t.user_attrs.get("grad_flow")]
    if not with_flow:
        return []
    flow, norms = go.Figure(), go.Figure()
    for t in with_flow:
        profile = np.asarray(t.user_attrs["grad_flow"][0], dtype=float)
        ratio = t.user_attrs.get("vanishing_ratio", float("nan"))
        flow.add_trace(go.Scatter(x=np.arange(1, len(profile) + 1), y=profile / profile[-1], mode="lines",
                                  name=f"trial {t.number} (ratio {ratio:.2g})"))
        med, top = t.user_attrs.get("grad_norm_median", []), t.user_attrs.get("grad_norm_max", [])
        epochs = np.arange(1, len(med) + 1)
        norms.add_trace(go.Scatter(x=epochs, y=med, mode="lines", name=f"trial {t.number} median"))
        norms.add_trace(go.Scatter(x=epochs, y=top, mode="lines", line={"dash": "dot"}, name=f"trial {t.number} max"))
    flow.update_layout(xaxis_title="step t of the window", yaxis_title="||dL/dh_t|| / ||dL/dh_T||", yaxis_type="log")
    norms.update_layout(xaxis_title="epoch", yaxis_title="global gradient norm before clipping", yaxis_type="log")
    return [("Gradient flow back through time (best trials)", flow), ("Gradient norm per epoch (best trials)", norms)]


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def build_report(study: optuna.Study, metrics_path: str | Path | None = None, top: int = 5) -> str:
    states = [t.state for t in study.trials]
    counts = ", ".join(f"{states.count(s)} {s.name.lower()}" for s in TrialState if states.count(s))
    trials = best_trials(study, top, "report")
    metric = trials[0].user_attrs.get("metric", "mse")  # a study's metric: set on its trials unless MSE
    fold_key, sem_key = ("fold_mse", "mse_sem") if metric == "mse" else ("fold_score", "score_sem")
    what = ("MSE over cross-validation folds, in the data's original units" if metric == "mse" else
            f"{NAMES[metric]} over cross-validation folds (scale-free: the mean over series)")
    parts = [f"<h1>Study {html.escape(study.study_name)}</h1>",
             f"<p>{len(states)} trials ({counts}). Values are mean validation {what}; lower is better.</p>"]
    folds = max(len(t.user_attrs.get(fold_key, [])) for t in trials)
    rows = []
    for t in trials:
        per_fold = [f"{v:.5g}" for v in t.user_attrs.get(fold_key, [])]
        rows.append([str(t.number), f"{t.value:.5g} ± {t.user_attrs.get(sem_key, 0):.2g}", *per_fold,
                     ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in t.params.items())])
    parts.append("<h2>Best trials, per fold</h2>")
    parts.append(_table(["trial", "mean ± s.e.", *[f"fold {i}" for i in range(folds)], "params"], rows))
    baselines = trials[0].user_attrs.get("baselines", {})
    if baselines:
        parts.append("<h2>Baselines on the same folds</h2>")
        parts.append(_table(["baseline", f"mean {NAMES.get(metric, 'MSE')}", *[f"fold {i}" for i in range(folds)]],
                            [[name, f"{np.mean(v):.5g}", *[f"{x:.5g}" for x in v]] for name, v in baselines.items()]))
    if metrics_path and Path(metrics_path).is_file():
        m = json.loads(Path(metrics_path).read_text())
        name = f"ensemble of {m['model']['members']}" if "members" in m["model"] else m["model"]["cell"]
        scored, shown, _ = score_rows(m, name)  # as tuner train's table: with --combine, the RNN alone too
        parts.append(f"<h2>Held-out test split ({m['n_test']} windows)</h2>")
        if "protocol" in m:
            parts.append(f"<p>Scored on {html.escape(m['protocol'])}.</p>")
        parts.append(_table(["model", *[NAMES[k] for k in shown]],
                            [[label, *[f"{s[k]:.5g}" for k in shown]] for label, s in scored]))
        iv = m.get("intervals")
        if iv:
            parts.append(f"<p>{iv['coverage']:.0%} prediction intervals from {iv['residuals']} out-of-fold "
                         f"residuals: {iv['test_coverage']:.1%} of the test values fall inside"
                         + (f" (adapting to the errors seen so far; at the nominal width "
                            f"{iv['fixed_test_coverage']:.1%})" if iv.get("adaptive") else "") + ".</p>")
        picture = Path(metrics_path).parent / "forecast.png"
        if picture.is_file():  # what tuner train drew: the test split and the forecast past the end
            data = base64.b64encode(picture.read_bytes()).decode()
            parts.append(f"<img alt='forecasts' style='max-width:100%' src='data:image/png;base64,{data}'>")

    for i, (title, fig) in enumerate(_figures(study) + _gradient_figures(trials)):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0), default_height="480px"))
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
             "text-align:right}th{background:#f4f4f4}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(study.study_name)} report"
            f"</title><style>{style}</style></head><body>{''.join(parts)}</body></html>")
