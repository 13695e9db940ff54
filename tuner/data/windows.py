"""A series -> supervised windows, with the transforms a trending series needs and their exact inverse.

Forward, for the target column(s) y (features pass through untouched):
    log (optional) -> difference at lag 1 and/or lag m (optional) -> windows -> minus each window's last
    value (normalise = "last", optional)
A window i holds rows [i, i + window) as input and the next `horizon` rows as target. Predictions are
mapped back to original units by undoing the same steps in reverse, using the actual past values that the
forecaster saw: nothing from the future of a window enters its inverse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError

# What a forecast row is of: which series, and the row of its first target in that series (its sample, for
# independent sequences). Sorted, compared and intersected as a pair, so forecasts of several configs, folds and
# (with many series) series are matched by what they forecast, never by position.
KEY = np.dtype([("series", np.int64), ("row", np.int64)])


def per_column(values: np.ndarray, columns: int, rows: np.ndarray | None = None) -> np.ndarray:
    """Per-target values (S, targets), one row a series, laid out as a forecast's `columns` (horizon-major,
    targets within each step), for the given rows (series indices) or all."""
    out = np.tile(values, (1, columns // values.shape[1]))
    return out if rows is None else out[rows]


def window_keys(rows: np.ndarray, series: np.ndarray | int = 0) -> np.ndarray:
    """Keys (KEY) for the given rows of the given series (one series: 0)."""
    keys = np.empty(len(rows), dtype=KEY)
    keys["series"], keys["row"] = series, rows
    return keys


@dataclass
class Windows:
    x: np.ndarray  # (N, window, C): transformed targets then features
    y: np.ndarray  # (N, horizon * n_targets): transformed targets, horizon-major
    y_orig: np.ndarray  # (N, horizon * n_targets): the same targets in original units
    last_orig: np.ndarray  # (N, n_targets): last input value in original units (persistence)
    t_last: np.ndarray  # (N,): row of each window's last input step
    target_time: pd.Index  # time of each window's first target
    anchor: np.ndarray  # (N, n_targets): what normalisation subtracted (zeros without it)
    stages: list[np.ndarray]  # (rows, n_targets) each: the series after log and after each difference
    original: np.ndarray  # (rows, n_targets): the targets in original units (seasonal naive looks back)
    times: pd.Index  # every row's time (its position without a time column)
    lags: tuple[int, ...]
    log: bool
    inputs: np.ndarray  # (rows, C): what windows are cut from, per row (transformed targets, then features)

    @property
    def n_targets(self) -> int:
        return self.anchor.shape[1]

    def keys(self, idx: np.ndarray) -> np.ndarray:
        """KEY of windows idx: series 0, and the row of their first target."""
        return window_keys(self.t_last[idx] + 1)

    def target_rows(self, idx: np.ndarray, horizon: int) -> np.ndarray:
        """The row each step ahead of windows idx forecasts: (n, horizon)."""
        return self.t_last[idx, None] + np.arange(1, horizon + 1)

    def seasonal_naive(self, idx: np.ndarray, season: int, horizon: int) -> np.ndarray:
        """Each target as the value one season before it (or whole seasons before, for steps past a season), the
        latest such value the window has seen: (n, horizon * n_targets), original units, horizon-major."""
        steps = np.arange(1, horizon + 1)
        back = season * np.ceil(steps / season).astype(int)  # whole seasons back to a row the window saw
        rows = self.t_last[idx, None] + steps - back  # (n, horizon)
        return self.original[np.maximum(rows, 0)].reshape(len(idx), -1)

    def to_original(self, pred: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Predictions (n, horizon * n_targets) in transformed units for windows idx -> original units."""
        nt = self.n_targets
        p = pred.reshape(len(idx), -1, nt) + self.anchor[idx, None, :]  # (n, horizon, n_targets)
        t_last = self.t_last[idx]
        horizon = p.shape[1]
        for k in reversed(range(len(self.lags))):  # undo the last difference first
            lag, before = self.lags[k], self.stages[k]
            out = np.empty_like(p)
            for j in range(horizon):
                prev = t_last + 1 + j - lag  # the value this step was differenced against
                known = prev <= t_last
                base = np.where(known[:, None], before[np.where(known, prev, 0)], 0.0)
                if not known.all():  # lag shorter than the horizon: use this stage's earlier forecasts
                    base[~known] = out[~known, j - lag]
                out[:, j] = p[:, j] + base
            p = out
        if self.log:
            with np.errstate(over="ignore"):  # a forecast past float's range is inf: callers check for it
                p = np.exp(p)
        return p.reshape(len(idx), -1)


def make_windows(frame: pd.DataFrame, targets: tuple[str, ...], window: int, horizon: int, *, log: bool = False,
                 difference: int = 0, seasonal_difference: int = 0, normalise: str = "none",
                 pad: bool = False) -> Windows:
    """All windows of a series frame (rows in time order), one per start row. With `pad`, also the windows that
    start before the series does, their missing steps NaN (a panel's: after scaling they are 0, the series'
    mean, as N-BEATS pads short histories), so every window length forecasts the same targets."""
    y = frame[list(targets)].to_numpy(dtype=float)
    features = frame.drop(columns=list(targets)).to_numpy(dtype=float)
    if log:
        if (y <= 0).any():
            col, row = np.argwhere(y <= 0)[0][::-1]
            raise DataError(f"log = true needs positive values, but {targets[col]} is {y[row, col]:g} in row "
                            f"{row + 1}; turn log off or shift the series")
        y = np.log(y)
    lags = tuple(lag for lag in (1 if difference else 0, seasonal_difference) if lag)
    stages = [y]
    for lag in lags:
        prev = stages[-1]
        diffed = np.full_like(prev, np.nan)
        diffed[lag:] = prev[lag:] - prev[:-lag]
        stages.append(diffed)
    z = np.hstack([stages[-1], features])  # (rows, C)

    first = sum(lags)  # rows before this are undefined after differencing
    lowest = first - window + 1 if pad else first  # padded: a window needs only its last step to be real
    starts = np.arange(lowest, len(frame) - window - horizon + 1)
    if len(starts) == 0:
        return _empty(frame, targets, window, horizon, features.shape[1], stages, lags, log, z)
    steps = starts[:, None] + np.arange(window)  # (N, window)
    ahead = starts[:, None] + window + np.arange(horizon)  # (N, horizon)
    x = z[steps] if not pad else np.vstack([np.full((window - 1, z.shape[1]), np.nan), z])[steps + window - 1]
    nt = len(targets)
    yt = stages[-1][ahead]  # (N, horizon, nt)
    t_last = starts + window - 1
    anchor = np.zeros((len(starts), nt))
    if normalise == "last":
        anchor = stages[-1][t_last]
        x[:, :, :nt] -= anchor[:, None, :]
        yt = yt - anchor[:, None, :]
    original = frame[list(targets)].to_numpy(dtype=float)
    return Windows(
        x=x, y=yt.reshape(len(starts), -1), y_orig=original[ahead].reshape(len(starts), -1),
        last_orig=original[t_last], t_last=t_last, target_time=frame.index[ahead[:, 0]], anchor=anchor,
        stages=stages, original=original, times=frame.index, lags=lags, log=log, inputs=z,
    )


def _empty(frame, targets, window, horizon, n_features, stages, lags, log, z) -> Windows:
    nt = len(targets)
    return Windows(np.empty((0, window, nt + n_features)), np.empty((0, horizon * nt)),
                   np.empty((0, horizon * nt)), np.empty((0, nt)), np.empty(0, int), frame.index[:0],
                   np.empty((0, nt)), stages, frame[list(targets)].to_numpy(dtype=float), frame.index, lags, log, z)


def lookback(d: Any) -> int:
    """Rows one window looks back at: its steps and its differencing lags (d: a DataSpec)."""
    return d.window + (1 if d.difference else 0) + d.seasonal_difference


def windows_for(frame: pd.DataFrame, targets: tuple[str, ...] | list[str], d: Any, pad: bool = False) -> Windows:
    """make_windows with a [data] table's window, horizon and transforms (d: a DataSpec), so no caller restates
    them."""
    return make_windows(frame, tuple(targets), d.window, d.horizon, log=d.log, difference=d.difference,
                        seasonal_difference=d.seasonal_difference, normalise=d.normalise, pad=pad)


def windows_bytes(n_windows: int, steps: int, features: int, outputs: int, copies: int) -> int:
    """Windowed data in float64: the windows themselves and `copies` scaled copies (one per fold, the test)."""
    return (1 + copies) * n_windows * (steps * features + 2 * outputs) * 8
