"""The one layout of every forecast tuner writes (predictions.csv, predict's output, --steps, ahead.csv): a row
per forecast value keyed by the time it forecasts, and the interval bounds laid on it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ..data.times import row_times
from .intervals import Intervals


def forecast_frame(times: np.ndarray, forecast: np.ndarray, targets: list[str], *, actual: np.ndarray | None = None,
                   width: np.ndarray | None = None, lower: np.ndarray | None = None, upper: np.ndarray | None = None,
                   steps: bool = False, series: np.ndarray | None = None) -> pd.DataFrame:
    """The one layout of every forecast tuner writes (predictions.csv, tuner predict): a row per forecast value,
    `time` the time it forecasts. One target one step ahead: time, [actual], predicted, [lower, upper]. Several
    steps ahead or targets: time, step, target, ... (a window's forecasts are consecutive rows). times is
    (n, horizon); forecast, actual, lower and upper (n, horizon * targets), horizon-major; `width` gives
    lower and upper as forecast -+ width per column. With `series` (each window's series id, a panel), a
    first column `series` says which series a row forecasts."""
    if width is not None:
        lower, upper = forecast - width, forecast + width
    n, cols = forecast.shape
    nt = len(targets)
    columns = {"actual": actual, "predicted": forecast, "lower": lower, "upper": upper}
    ids = {} if series is None else {"series": np.repeat(series, cols)}
    if cols == 1 and not steps:
        return pd.DataFrame({**ids, "time": times[:, 0], **{k: v[:, 0] for k, v in columns.items() if v is not None}})
    horizon = cols // nt
    frame = pd.DataFrame({**ids, "time": np.repeat(times, nt, axis=1).ravel(),
                          "step": np.tile(np.repeat(np.arange(1, horizon + 1), nt), n),
                          "target": np.tile(targets, n * horizon)})
    for k, v in columns.items():
        if v is not None:
            frame[k] = v.ravel()
    return frame


def actual_of(out: pd.DataFrame, frame: pd.DataFrame, targets: list[str]) -> np.ndarray:
    """The value each row of a forecast_frame forecasts, from the data it was made from (NaN past its end)."""
    rows = {str(t): i for i, t in enumerate(row_times(frame.index, np.arange(len(frame))))}
    at = out["time"].astype(str).map(rows).to_numpy(dtype=float)
    column = out["target"].map(targets.index).to_numpy() if "target" in out else np.zeros(len(out), dtype=int)
    known = np.isfinite(at)
    actual = np.full(len(out), np.nan)
    actual[known] = frame[targets].to_numpy(dtype=float)[at[known].astype(int), column[known]]
    return actual


def with_bounds(frame: pd.DataFrame, intervals: Intervals, actual: np.ndarray | None = None) -> Intervals:
    """Set lower and upper of forecast_frame's rows (consecutive windows, a window's columns in order) from
    `predicted`: the nominal half-width before intervals.adapt_from, and from that time on a level that adapts
    to each error once its value is known (`actual` per row, NaN where unknown; the frame's own by default).
    Returns the intervals at the level the last known error left, for forecasts past the end."""
    columns = intervals.residuals.shape[1]
    forecast = frame["predicted"].to_numpy(dtype=float).reshape(-1, columns)
    if intervals.scale is not None:  # a panel's: each series' width at the nominal level (no walk across series)
        width = intervals.series_width(frame["series"].to_numpy()[::columns])
        frame["lower"], frame["upper"] = (forecast - width).ravel(), (forecast + width).ravel()
        return intervals
    known = (frame["actual"].to_numpy(dtype=float) if actual is None else actual).reshape(-1, columns)
    width = np.tile(intervals.width, (len(forecast), 1))
    start = _from(frame["time"].to_numpy().reshape(-1, columns)[:, 0], intervals.adapt_from)
    if len(start):  # from there on the forecasts are out of sample: walk from the nominal level
        steps = frame["step"].to_numpy()[:columns] if "step" in frame else np.ones(columns, dtype=int)
        width[start[0]:], intervals = dataclasses.replace(intervals, level=None).walk(
            forecast[start[0]:], known[start[0]:], steps)
    frame["lower"], frame["upper"] = (forecast - width).ravel(), (forecast + width).ravel()
    return intervals


def _from(times: np.ndarray, adapt_from: str | None) -> np.ndarray:
    """The rows (in time order) forecasting adapt_from or later: numbers compared as numbers, dates as the
    data writes them (ISO order)."""
    if adapt_from is None or not len(times):
        return np.empty(0, dtype=int)
    if all(isinstance(t, (int, float, np.number)) and not isinstance(t, bool) for t in times):
        try:
            return np.flatnonzero(times.astype(float) >= float(adapt_from))
        except ValueError:  # saved from times that were not numbers: another layout of the data
            return np.empty(0, dtype=int)
    return np.flatnonzero(times.astype(str) >= adapt_from)


__all__ = ["actual_of", "forecast_frame", "with_bounds"]
