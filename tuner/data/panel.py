"""Many series in one table (long format, as statsforecast and NeuralForecast read it: an id column, a time
column, the values): each series read, checked and handled on its own, then windowed on its own, so no window
crosses from one series into the next. A window's key is (series, row): its series' position in the sorted
ids and the row of its first target there.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError
from .csv import _fill_missing, _gaps, _numbers, _time_index, load_table
from .scaling import SeriesScaler
from .windows import Windows, window_keys, windows_for

if TYPE_CHECKING:
    import pandas as pd

MISSING_FIX = 'set data.missing = "interpolate" or "drop", or fill them'


def read_panel(path: str | Path, series: str, target: str | list[str] | tuple[str, ...],
               features: list[str] | tuple[str, ...] = (), time: str | None = None, missing: str = "error",
               missing_fix: str = MISSING_FIX) -> dict[str, pd.DataFrame]:
    """A long table -> {series id: its frame}, ids sorted as text. Every row needs an id; within a series each
    time appears once; every series steps at the same frequency; gaps and empty cells are handled per series as
    `missing` says, and said once for all series."""

    path = Path(path)
    df = load_table(path, target, features, time, extra=(series,), text=(series,))
    ids = df[series].str.strip()
    blank = ids.isna() | (ids == "")
    if blank.any():
        row = int(np.flatnonzero(blank.to_numpy())[0])
        raise DataError(f"column {series!r} (data.series) of {path} has no series id in data row {row + 1} "
                        f"({int(blank.sum())} such row{'s' if blank.sum() > 1 else ''}); every row needs its series")
    targets = [target] if isinstance(target, str) else list(target)
    values = _numbers(df, path, targets + list(features))
    stamps = _time_index(df, path, time, unique=False) if time else None
    said: dict[str, str] = {}  # the first note about each series' data
    frames: dict[str, pd.DataFrame] = {}
    steps: dict[str, Any] = {}
    for key, rows in sorted(ids.groupby(ids).indices.items()):
        where = f" (series {key!r})"

        def say(text: str, key: str = key) -> None:
            said.setdefault(key, text)

        part = values.iloc[rows]
        if stamps is not None:
            part.index = stamps[rows]
            if part.index.duplicated().any():
                raise DataError(f"time column {time!r} of {path}{where} repeats "
                                f"{part.index[part.index.duplicated()][0]}; each time may appear once in a series")
            part = _gaps(part.sort_index(), path, str(time), missing, missing_fix, where, say)
            steps[key] = _step_name(part.index)
        else:
            part = part.reset_index(drop=True)
        frames[key] = _fill_missing(part, path, missing, missing_fix, where, say)
    _same_step(steps, path, time)
    if said:  # once for all series: the first, and how many more
        more = len(said) - 1
        print(f"note: {next(iter(said.values()))}" + (f"; and {more} more series handled likewise" if more else ""),
              file=sys.stderr)
    return frames


def _step_name(index: pd.Index) -> str | None:
    from .times import series_step

    step = series_step(index)
    return None if step is None else str(step)


def _same_step(steps: dict[str, Any], path: Path, time: str | None) -> None:
    """One study, one frequency: series stepping by a month beside series stepping by a day are refused."""
    kinds = {s for s in steps.values() if s is not None}
    if len(kinds) > 1:
        first = next(iter(steps))
        other = next(k for k, s in steps.items() if s is not None and s != steps[first])
        raise DataError(f"time column {time!r} of {path}: series {first!r} steps by {steps[first]} but series "
                        f"{other!r} by {steps[other]}; a study holds series of one frequency: split the file")


def keep_long_enough(frames: dict[str, pd.DataFrame], min_length: int, path: str) -> dict[str, pd.DataFrame]:
    """Series with at least min_length rows; the others left out, said once."""
    if not min_length:
        return frames
    kept = {k: f for k, f in frames.items() if len(f) >= min_length}
    dropped = [k for k in frames if k not in kept]
    if not kept:
        raise DataError(f"{path}: every series is shorter than data.min_length={min_length} rows (the longest has "
                        f"{max(len(f) for f in frames.values())}); lower min_length")
    if dropped:
        print(f"note: {path}: left out {len(dropped)} series shorter than data.min_length={min_length} rows "
              f"(first: {dropped[0]!r}, {len(frames[dropped[0]])} rows)", file=sys.stderr)
    return kept


@dataclass
class PanelWindows:
    """The windows of several series side by side: each series windowed on its own (windows.py), their rows
    concatenated series after series. Offers what Windows offers over all rows, each row undone with its own
    series' stages."""

    parts: list[Windows]
    ids: list[str]
    relative: int = 0  # target columns held relative to each window's last value (normalise = "last")
    # over all windows, series after series: as Windows has them (set from the parts)
    x: np.ndarray = field(init=False)
    y: np.ndarray = field(init=False)
    y_orig: np.ndarray = field(init=False)
    last_orig: np.ndarray = field(init=False)
    t_last: np.ndarray = field(init=False)  # (N,): row of each window's last input step in its own series
    anchor: np.ndarray = field(init=False)
    target_time: pd.Index = field(init=False)
    offsets: np.ndarray = field(init=False)  # windows of series s: offsets[s]:offsets[s + 1]
    series: np.ndarray = field(init=False)  # (N,): each window's series
    local: np.ndarray = field(init=False)  # (N,): each window's position among its series' windows

    def __post_init__(self) -> None:
        counts = [len(p.t_last) for p in self.parts]
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(int)
        self.series = np.repeat(np.arange(len(self.parts)), counts)
        self.local = np.arange(self.offsets[-1]) - self.offsets[self.series]
        for name in ("x", "y", "y_orig", "last_orig", "t_last", "anchor"):
            setattr(self, name, np.concatenate([getattr(p, name) for p in self.parts]))
        for p in self.parts:  # the windows live on concatenated; each part keeps what undoes its transforms
            p.x, p.y, p.y_orig = p.x[:0], p.y[:0], p.y_orig[:0]
        self.target_time = self.parts[0].target_time.append([p.target_time for p in self.parts[1:]])

    @property
    def n_targets(self) -> int:
        return self.parts[0].n_targets

    def keys(self, idx: np.ndarray) -> np.ndarray:
        """windows.KEY of windows idx: their series and the row of their first target there."""
        return window_keys(self.t_last[idx] + 1, self.series[idx])

    def target_rows(self, idx: np.ndarray, horizon: int) -> np.ndarray:
        return self.t_last[idx, None] + np.arange(1, horizon + 1)

    def row_times(self, idx: np.ndarray, horizon: int) -> np.ndarray:
        """The time each step ahead of windows idx forecasts, written as its series' data writes it: (n, horizon)."""
        from .times import row_times

        out = np.empty((len(idx), horizon), dtype=object)
        series = self.series[idx]
        for s in np.unique(series):
            at = np.flatnonzero(series == s)
            part = self.parts[s]
            out[at] = row_times(part.times, part.target_rows(self.local[idx[at]], horizon))
        return out

    def cutoffs(self, idx: np.ndarray, default: np.ndarray) -> np.ndarray:
        """Per series, the row of the first target among windows idx (default[s] for a series with none there):
        what a forecast from there knows is the rows before it."""
        out = default.copy()
        np.minimum.at(out, self.series[idx], self.t_last[idx] + 1)
        return out

    def scalers(self, cutoffs: np.ndarray) -> tuple[SeriesScaler, SeriesScaler]:
        """Inputs' and targets' scalers: each series' statistics of its rows before its cutoff."""
        xs = SeriesScaler.from_rows([p.inputs for p in self.parts], cutoffs, self.relative)
        return xs, xs.targets(self.n_targets, self.y.shape[1] // self.n_targets)

    def means(self, cutoffs: np.ndarray) -> np.ndarray:
        """Each series' mean of its values before its cutoff (S, targets), original units: the mean baseline."""
        return np.stack([p.original[: max(c, 1)].mean(axis=0) for p, c in zip(self.parts, cutoffs, strict=True)])

    def id_of(self, idx: np.ndarray) -> np.ndarray:
        """The series id of windows idx."""
        return np.asarray(self.ids, dtype=object)[self.series[idx]]

    def _by_series(self, idx: np.ndarray, width: int, each: Any) -> np.ndarray:
        out = np.empty((len(idx), width))
        series = self.series[idx]
        for s in np.unique(series):
            at = np.flatnonzero(series == s)
            out[at] = each(self.parts[s], self.local[idx[at]], at)
        return out

    def to_original(self, pred: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Predictions (n, horizon * n_targets) in transformed units for windows idx -> original units, each
        series' rows through its own inverse."""
        return self._by_series(idx, pred.shape[1], lambda part, local, at: part.to_original(pred[at], local))

    def seasonal_naive(self, idx: np.ndarray, season: int, horizon: int) -> np.ndarray:
        return self._by_series(idx, horizon * self.n_targets,
                               lambda part, local, at: part.seasonal_naive(local, season, horizon))

    def mase_scale(self, split_rows: np.ndarray, season: int) -> np.ndarray:
        """Each series' MASE denominator per target (S, n_targets): the mean absolute change over one season
        (one step without a season) of its rows before split_rows[s], as the M3 and M4 competitions score."""
        return np.stack([naive_error(p.original[:end], season) for p, end in zip(self.parts, split_rows, strict=True)])


def naive_error(values: np.ndarray, season: int) -> np.ndarray:
    """The MASE denominator of one series' values (rows, targets): the mean absolute seasonal-naive error."""
    lag = season if season and len(values) > season else 1
    change = np.abs(values[lag:] - values[:-lag]).mean(axis=0) if len(values) > lag else np.ones(values.shape[1])
    return np.where(change > 0, change, 1.0)  # a constant series has no scale of its own: its errors count as they are


def panel_windows(frames: dict[str, pd.DataFrame], targets: tuple[str, ...] | list[str], d: Any) -> PanelWindows:
    """Every series' windows with a [data] table's window, horizon and transforms (d: a DataSpec)."""
    parts = []
    for key, frame in frames.items():
        try:
            parts.append(windows_for(frame, targets, d, pad=True))
        except DataError as exc:
            raise DataError(f"series {key!r}: {exc}") from None
    return PanelWindows(parts, list(frames), len(targets) if d.normalise == "last" else 0)
