"""--steps: forecasts past the end of the data, fed back block by block, with intervals from simulated futures
that add resampled out-of-fold errors before feeding back."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pandas as pd

from ..data.times import row_times
from ..data.windows import per_column, windows_for
from ..errors import ConfigError
from . import PATHS
from .artifact import Forecaster, Partner
from .frames import forecast_frame
from .intervals import Intervals
from .panel import last_rows, scaling_rows
from .parts import mix


def forecast_ahead(forecasters: list[Forecaster], frame: pd.DataFrame | dict[str, pd.DataFrame], targets: list[str],
                   steps: int, intervals: Intervals | None = None, paths: int = PATHS, seed: int = 0,
                   progress: bool = False) -> pd.DataFrame:
    """`steps` values past the end of the data (a frame indexed by time, as Forecaster.read gives it; a panel's
    {id: frame}, each series past its own end) by feeding forecasts back (recursive: each block of `horizon`
    forecasts, the mean of the forecasters', becomes data for the next). With intervals, their bounds are
    quantiles of `paths` simulated futures that add one resampled out-of-fold window's errors (a panel's: at the
    series' scale) to each block before feeding it back, so they widen as errors compound."""
    frames = frame if isinstance(frame, dict) else {"": frame}
    columns = next(iter(frames.values())).columns
    if len(columns) != len(targets):
        raise ConfigError(f"--steps needs the model to forecast every input it reads, but it also reads "
                          f"features {[c for c in columns if c not in targets]} whose future values are "
                          f"unknown; forecast without --steps")
    need = max(f.lookback for f in forecasters)  # rows the longest window and its differencing look at
    start = last_rows(frames, targets, need, pad=isinstance(frame, dict))  # (S, need, targets)
    series = scaling_rows(forecasters[0], list(frames)) if isinstance(frame, dict) else None
    residuals = intervals.residuals if intervals is not None else None
    scale = None
    if intervals is not None and intervals.scale is not None and series is not None:  # a panel's errors, per series
        scale = per_column(intervals.scale, len(intervals.width), series)
    # path 0 is the point forecast, computed in the same arithmetic as the simulated ones (the same batch), so
    # no rounding puts it outside bounds that ought to hold it
    simulated = _ahead(forecasters, start, series, targets, steps, residuals, scale, np.random.default_rng(seed),
                       paths if intervals is not None else 0, progress)  # (S, 1 + paths, steps, targets)
    point, lower, upper = simulated[:, 0].reshape(len(frames), -1), None, None
    if intervals is not None:
        alpha = float(np.mean(intervals.alpha)) / 2  # the level the errors seen so far left (intervals.py)
        lower, upper = _bounds(simulated[:, 1:], alpha)
    if any(f.combine for f in forecasters):  # each member's partners' direct `steps` from each end, averaged as the
        # members are; the bounds move with the forecast
        histories = [f[targets[0]].to_numpy(dtype=float) for f in frames.values()]
        alike = len({f.combine for f in forecasters}) == 1  # then one member's stands for all, to the last digit
        each = [f.with_partners(point, histories) for f in (forecasters[:1] if alike else forecasters)]
        shift = np.mean(each, axis=0) - point
        point = point + shift
        lower, upper = (None if b is None else b + shift for b in (lower, upper))
    times = np.stack([row_times(f.index, len(f) + np.arange(steps)) for f in frames.values()])
    ids = np.asarray(list(frames), dtype=object) if isinstance(frame, dict) else None
    return forecast_frame(times, point, targets, lower=lower, upper=upper, steps=True, series=ids)


def _bounds(futures: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Each series' quantiles of its simulated futures (S, paths, steps, targets) -> lower and upper
    (S, steps * targets); futures that overflowed are left out, said once."""
    lost = ~np.isfinite(futures).all(axis=(2, 3))  # (S, paths)
    if lost.any():  # said once, in words, rather than as NumPy's overflow warnings
        print(f"note: {int(lost.sum())} of {lost.size} simulated futures grew past what floating point holds "
              f"(errors fed back made the forecasts explode); the bounds are quantiles of the other "
              f"{int((~lost).sum())}", file=sys.stderr)
    out = []
    for s in range(len(futures)):
        kept = futures[s][~lost[s]] if (~lost[s]).any() else futures[s]
        out.append([np.quantile(kept, q, axis=0).reshape(-1) for q in (alpha, 1 - alpha)])
    return np.stack([o[0] for o in out]), np.stack([o[1] for o in out])


def _ahead(forecasters: list[Forecaster], start: np.ndarray, series: np.ndarray | None, targets: list[str],
           steps: int, residuals: np.ndarray | None, scale: np.ndarray | None, rng: np.random.Generator,
           paths: int = 0, progress: bool = False) -> np.ndarray:
    """(S, 1 + paths, steps, targets): from each series' last rows `start` (S, need, targets), the recursive
    forecast (path 0) and `paths` simulated futures, each block with one resampled out-of-fold window's errors
    (times `scale`, a panel's per-series (S, columns)) added before it is fed back. Each block costs the same
    (the tails keep only what the windows look at), so the time is linear in the steps."""
    horizon, nt = forecasters[0].spec.data.horizon, len(targets)
    n, need = len(start), start.shape[1]
    tails = np.repeat(start, 1 + paths, axis=0)  # (S * (1 + paths), need, nt): each series' paths together
    rows = None if series is None else np.repeat(series, 1 + paths)
    blocks = -(-steps // horizon)
    out = np.empty((n, 1 + paths, blocks * horizon, nt))
    log = any(f.spec.data.log for f in forecasters)
    for b in _progress(range(blocks), progress, "--steps", "block"):
        block = np.mean([_next_block(f, tails, targets, rows) for f in forecasters], axis=0)
        block = block.reshape(n, 1 + paths, horizon, nt)
        if residuals is not None and paths:  # one out-of-fold window's errors, all its steps and targets together
            drawn = residuals[rng.integers(0, len(residuals), size=(n, paths))]  # (S, paths, columns)
            block[:, 1:] += (drawn if scale is None else drawn * scale[:, None, :]).reshape(n, paths, horizon, nt)
            if log:  # a log model's data must stay positive
                block[:, 1:] = np.maximum(block[:, 1:], np.finfo(float).tiny)
        out[:, :, b * horizon : (b + 1) * horizon] = block
        flat = block.reshape(-1, horizon, nt)
        tails = np.concatenate([tails[:, horizon:], flat], axis=1) if need > horizon else flat[:, -need:]
    return out[:, :, :steps]


def _progress(items: range, show: bool, desc: str, unit: str) -> Any:
    """A tqdm bar on stderr when asked (a terminal), else the items themselves."""
    if not show:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit=unit, file=sys.stderr, leave=False)


def _next_block(forecaster: Forecaster, tails: np.ndarray, targets: list[str], rows: np.ndarray | None) -> np.ndarray:
    """Each tail's forecast for the rows after it, (paths, horizon * targets): the parts' weighted sum (rows: a
    panel's scaling row of each tail)."""
    every = np.arange(len(tails))
    return mix(forecaster.parts, lambda part: (_block(part, tails, targets, rows), every, None))[0]


def _block(forecaster: Forecaster | Partner, tails: np.ndarray, targets: list[str], rows: np.ndarray | None
           ) -> np.ndarray:
    """Each tail's forecast for the rows after it, (paths, horizon * targets): the tails laid end to end, each
    followed by `horizon` unknown rows, windowed once and forecast in one pass (a window never reaches back
    past its own tail: the tail holds its window and its differencing lags)."""
    d = forecaster.spec.data
    paths, need, nt = tails.shape
    gap = np.full((paths, d.horizon, nt), np.nan)
    series = np.concatenate([tails, gap], axis=1).reshape(-1, nt)
    w = windows_for(pd.DataFrame(series, columns=targets), targets, d)
    last = np.arange(paths) * (need + d.horizon) + need - 1  # each tail's last row
    idx = np.searchsorted(w.t_last, last)
    return w.to_original(forecaster.predict_scaled_windows(w.x[idx], rows), idx)


__all__ = ["forecast_ahead"]
