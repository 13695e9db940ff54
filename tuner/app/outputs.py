"""What tuner train writes into its folder (scores, intervals, forecast.png, ahead.csv), and clearing what an
earlier run wrote there (never anything else)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..config.spec import StudySpec
from ..data.datasets import DATASETS
from ..data.panel import PanelWindows
from ..data.prepare import Prepared
from ..data.times import row_times
from ..forecast.ahead import forecast_ahead
from ..forecast.artifact import INTERVALS, Forecaster
from ..forecast.intervals import Intervals, coverage_of
from .series import SERIES, pick_series, series_history, series_scores

OUTPUTS = ("model.json", "metrics.json", "predictions.csv", "intervals.json", "forecast.png", "ahead.csv",
           "ensemble.json", "series.csv")


def clear_outputs(out_dir: Path) -> list[str]:
    """Remove what an earlier tuner train wrote into out_dir (a single model's files, an ensemble's member
    folders), so no stale model stands beside the new one; anything else in the folder is left alone."""
    if not _ours(out_dir):
        return []
    old = [p for p in out_dir.iterdir() if p.is_file() and (p.name in OUTPUTS or (
        p.name.startswith("model") and p.suffix in (".npz", ".json")))]
    old += [p for p in out_dir.glob("member-*") if p.is_dir() and _ours(p)]
    for path in old:
        if path.is_dir():
            clear_outputs(path)
            if not any(path.iterdir()):
                path.rmdir()
        else:
            path.unlink()
    return sorted(p.name for p in old)


def _ours(folder: Path) -> bool:
    """Whether tuner train wrote this folder: its model.json or ensemble.json says so."""
    for name, fmt in (("model.json", "tuner.SequenceModel/1"), ("ensemble.json", "tuner.Ensemble/1")):
        try:
            if json.loads((folder / name).read_text()).get("format") == fmt:
                return True
        except (OSError, ValueError, AttributeError):
            continue
    return False


def target_names(spec: StudySpec) -> list[str]:
    """The forecast columns' names: a CSV's target columns, "value" for a built-in series."""
    return list(spec.data.targets) if DATASETS[spec.data.dataset].reads_file else ["value"]


def write_scores(out_dir: Path, intervals: Intervals, metrics: dict, predictions: pd.DataFrame,
                 prepared: Prepared, baselines: dict[str, np.ndarray] | None = None) -> None:
    """What a trained folder holds beside its model(s), one model or an ensemble: intervals.json, metrics.json
    and predictions.csv; for a panel, series.csv (each series' test scores, and its baselines')."""
    if prepared.panel is not None and prepared.mase_scale is not None:
        series_scores(predictions, prepared, baselines).to_csv(out_dir / SERIES, index=False)
    (out_dir / INTERVALS).write_text(json.dumps(intervals.to_dict()))
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    predictions.to_csv(out_dir / "predictions.csv", index=False)


AHEAD_STEPS = 36  # how far past the end of the data forecast.png and ahead.csv go (at least one horizon)


def draw(out_dir: Path, prepared: Prepared, predictions: pd.DataFrame, forecasters: list[Forecaster],
         intervals: Intervals, title: str) -> Path | None:
    """forecast.png (app/plots.py) and ahead.csv, the forecast past the end of the data; for series only (the
    samples of independent sequences have no order to draw), and past the end only without feature columns
    (their future is unknown)."""
    w = prepared.windows
    if w is None:
        return None
    if prepared.panel is not None:  # a few series: the best, the median and the worst by MASE
        from .plots import panel_png  # matplotlib: only here

        shown = pick_series(pd.read_csv(out_dir / SERIES, dtype={"series": str}))
        return panel_png(out_dir / "forecast.png", [series_history(prepared, s, predictions) for s in shown],
                         intervals.coverage, title)
    assert not isinstance(w, PanelWindows)
    targets = target_names(forecasters[0].spec)
    times = row_times(w.times, np.arange(len(w.times)))
    split_at = int(w.t_last[prepared.test_idx[0]]) + 1  # the first row the test split forecasts
    history = pd.Series(w.original[:split_at, 0], index=times[:split_at])
    test = predictions
    if "step" in test:
        test = test[(test["step"] == 1) & (test["target"] == targets[0])]
    ahead = None
    if prepared.input_size == len(targets):
        frame = pd.DataFrame(w.original, index=w.times, columns=targets)
        steps = max(forecasters[0].spec.data.horizon, min(len(prepared.test_idx), AHEAD_STEPS))
        ahead = forecast_ahead(forecasters, frame, targets, steps, intervals)
        ahead.to_csv(out_dir / "ahead.csv", index=False)
        if "target" in ahead:
            ahead = ahead[ahead["target"] == targets[0]]
    from .plots import forecast_png  # matplotlib: only here

    return forecast_png(out_dir / "forecast.png", history, test, ahead, intervals.coverage, title)


def interval_metrics(intervals: Intervals, predictions: pd.DataFrame) -> dict:
    """The intervals' nominal coverage and the test split's (as written, adapting; and at the nominal width
    throughout), their nominal and mean test half-width per column, and the level the test split left."""
    columns = len(intervals.width)
    actual, forecast = (predictions[c].to_numpy(dtype=float).reshape(-1, columns) for c in ("actual", "predicted"))
    width = (predictions["upper"].to_numpy(dtype=float).reshape(-1, columns) - forecast)
    fixed = intervals.width if intervals.scale is None else width  # a panel's widths do not walk
    return {"coverage": intervals.coverage, "test_coverage": coverage_of(actual, forecast, width),
            "fixed_test_coverage": coverage_of(actual, forecast, fixed), "adaptive": intervals.adapt_from
            is not None, "gamma": intervals.gamma, "width": intervals.width.tolist(),
            "test_width": width.mean(axis=0).tolist(), "level": intervals.alpha.tolist(),
            "residuals": len(intervals.residuals)}


