"""Prepared data: windows, the held-out test split and the folds, computed once per data setting; a Split
(split.py) is one train/evaluation pair scaled with its training part's statistics, each series' own.

One series or many (a panel, data.series): the test split is the last test_size rows of every series, and the
folds are the same cutoffs in every series, counted back from its test split (TimeSeriesSplit's blocks, as many
windows in each series)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..limits import check_fits
from .datasets import DATASETS, Sequences
from .folds import make_folds, min_samples, panel_folds
from .metrics import scores
from .panel import PanelWindows, naive_error, panel_windows
from .scaling import SeriesScaler
from .split import Scaling, Split
from .windows import Windows, lookback, per_column, windows_bytes, windows_for

if TYPE_CHECKING:  # data sits below the specs: it reads their fields, never imports them
    from ..config.spec import CVSpec, DataSpec

__all__ = ["Prepared", "Scaling", "Split", "prepare", "scores"]


@dataclass
class Prepared:
    x: np.ndarray  # every window/sample, unscaled
    y: np.ndarray
    y_orig: np.ndarray
    train_idx: np.ndarray  # windows used for tuning, in time order (series after series for a panel)
    test_idx: np.ndarray  # windows of the held-out test split
    folds: list[tuple[np.ndarray, np.ndarray]]  # positions within train_idx
    windows: Windows | PanelWindows | None = None
    time: pd.Index | None = None  # time of each window's first target (series)
    mase_scale: np.ndarray | None = None  # (series, targets): each series' MASE denominator (series only)
    split_rows: np.ndarray | None = None  # a panel's: each series' first row of the test split
    all_idx: np.ndarray | None = None  # every window with all its targets known, the test split's too (--refit)

    @property
    def input_size(self) -> int:
        return self.x.shape[2]

    @property
    def output_size(self) -> int:
        return self.y.shape[1]

    @property
    def panel(self) -> PanelWindows | None:
        return self.windows if isinstance(self.windows, PanelWindows) else None

    @property
    def ids(self) -> tuple[str, ...]:
        """A panel's series ids; () for one series."""
        return tuple(self.panel.ids) if self.panel is not None else ()

    def series_of(self, idx: np.ndarray) -> np.ndarray:
        """The series of windows idx (0 for one series)."""
        return self.panel.series[idx] if self.panel is not None else np.zeros(len(idx), dtype=int)

    def split(self, train: np.ndarray, evaluate: np.ndarray, known: np.ndarray | None = None) -> Split:
        """Scale with `train`'s statistics (one series: its training windows'; a panel: each series' rows before
        its first evaluation target, or before known[s]: scaling.py); both are indices into all windows."""
        tr, ev = self.series_of(train), self.series_of(evaluate)
        means = None
        if self.panel is not None and self.split_rows is not None:
            cutoffs = known if known is not None else self.panel.cutoffs(evaluate, self.split_rows)
            (xs, ys), means = self.panel.scalers(cutoffs), self.panel.means(cutoffs)
        else:
            xs, ys = SeriesScaler.fit(self.x[train]), SeriesScaler.fit(self.y[train])
        last = self.windows.last_orig[evaluate] if self.windows is not None else None
        scale = None
        if self.mase_scale is not None:  # each value's denominator, horizon-major like the targets
            scale = per_column(self.mase_scale, self.output_size, ev)
        return Split(xs.transform(self.x[train], tr), ys.transform(self.y[train], tr),
                     xs.transform(self.x[evaluate], ev), ys.transform(self.y[evaluate], ev), self.y_orig[evaluate],
                     xs, ys, self.windows, evaluate, last, self.y_orig[train], ev, scale, self.ids, means)

    def fold(self, i: int) -> Split:
        return self._folds[i]

    @property
    def nbytes(self) -> int:
        """The memory its arrays hold: the windows, and the folds' scaled copies once made."""
        arrays = [self.x, self.y, self.y_orig]
        for split in self.__dict__.get("_folds", []):
            arrays += [split.x_train, split.y_train, split.x_eval, split.y_eval, split.y_eval_orig]
        return sum(a.nbytes for a in arrays)

    @cached_property
    def _folds(self) -> list[Split]:
        return [self.split(self.train_idx[tr], self.train_idx[va]) for tr, va in self.folds]

    def test(self) -> Split:
        """Everything tuning saw -> the held-out test split."""
        return self.split(self.train_idx, self.test_idx)

    def everything(self) -> Split:
        """Every window, the test split's too, scaled with every row's statistics (tuner train --refit: a model
        to forecast the real future from all the data; its evaluation part is the test split, seen in training)."""
        every = self.all_idx if self.all_idx is not None else np.concatenate([self.train_idx, self.test_idx])
        rows = None if self.panel is None else np.array([len(p.original) for p in self.panel.parts])
        return self.split(every, self.test_idx, rows)


def _select_range(frame: pd.DataFrame, spec: DataSpec) -> pd.DataFrame:
    if spec.start is None and spec.end is None:
        return frame
    try:
        chosen = frame.loc[spec.start : spec.end]
    except (TypeError, ValueError, KeyError) as exc:
        raise DataError(f"data.start/data.end ({spec.start!r}, {spec.end!r}) cannot be compared with the time "
                        f"column: {exc}") from None
    if chosen.empty:
        raise DataError(f"no rows between data.start={spec.start!r} and data.end={spec.end!r}; the data runs "
                        f"from {frame.index[0]} to {frame.index[-1]}")
    return chosen


def _check_sizes(spec: DataSpec, cv: CVSpec, rows: int, columns: int, outputs: int, n_series: int = 1) -> None:
    """Refuse data whose windows (and their scaled copy per fold) cannot fit, before they are built."""
    sequences = DATASETS[spec.dataset].sequences
    steps = spec.length if sequences else spec.window
    n_windows = rows if sequences else max(rows - n_series * (spec.window if n_series == 1 else spec.horizon), 0)
    check_fits(f"the data ({n_windows} windows of {steps} steps x {columns} values)",
               windows_bytes(n_windows, steps, columns, outputs, cv.folds + 1),
               "lower data.n_points, data.length or data.window" if n_series == 1 else
               f"{n_series} series: lower data.window or leave series out (data.min_length, a shorter file)")


def _test_rows(spec: DataSpec, rows: int) -> int:
    return spec.test_size or max(1, round(spec.test_fraction * rows))


def _windows_for(spec: DataSpec, rows: int) -> tuple[int, int]:
    """(training windows, test windows) that `rows` rows give: the counts prepare's selection makes."""
    n_test = _test_rows(spec, rows)
    first_t = lookback(spec) - 1  # the earliest window's last input row
    last_t = rows - spec.horizon - 1  # latest window's last input row
    before = rows - n_test - spec.horizon - first_t  # windows whose targets all precede the test period
    train = max(0, -(-before // spec.stride))
    test = max(0, last_t - max(first_t, rows - n_test - 1) + 1)
    return train, test


def _rows_hint(spec: DataSpec, need: int) -> str:
    """The fewest rows giving `need` training windows and a test window, by the same counts prepare makes."""
    if spec.test_size and spec.test_size < spec.horizon:
        return f"test_size={spec.test_size} holds no window of horizon={spec.horizon}: it needs test_size >= horizon"
    rows = spec.window + spec.horizon
    for _ in range(1_000_000):  # counts grow with rows (a test fraction takes at most one more row per row)
        train, test = _windows_for(spec, rows)
        if train >= need and test > 0:
            return f"it needs at least {rows}"
        rows += 1
    return f"no length gives {need} training windows with test_size={spec.test_size}"


def prepare(spec: DataSpec, cv: CVSpec, seed: int = 0) -> Prepared:
    """Load, window and split the data once; every trial reuses the result."""
    dataset = DATASETS[spec.dataset]
    if dataset.generated:  # bound the size before generating
        _check_sizes(spec, cv, spec.n_points, dataset.channels, spec.horizon)
    loaded = DATASETS[spec.dataset](spec)
    scheme = cv.scheme if cv.scheme != "auto" else ("kfold" if isinstance(loaded, Sequences) else "time")
    if isinstance(loaded, Sequences):
        n = len(loaded.x)
        n_test = spec.test_size or max(1, round(spec.test_fraction * n))
        if n_test >= n:
            raise DataError(f"test_size={n_test} leaves no samples for tuning out of {n}; lower it")
        train_idx, test_idx = np.arange(n - n_test), np.arange(n - n_test, n)
        folds = make_folds(len(train_idx), scheme, cv.folds, cv.gap or 0, seed)
        return Prepared(loaded.x, loaded.y, loaded.y, train_idx, test_idx, folds)

    if isinstance(loaded, dict):
        return _prepare_panel(loaded, spec, cv, scheme)
    frame = _select_range(loaded, spec)
    targets = spec.targets if dataset.reads_file else (frame.columns[0],)
    rows = len(frame)
    _check_sizes(spec, cv, rows, frame.shape[1], spec.horizon * len(targets))
    w = windows_for(frame, targets, spec)
    train_idx, test_idx, n_test = _select(w, rows, spec)
    gap = _gap(spec, cv, scheme)
    need = min_samples(scheme, cv.folds, gap)
    if len(test_idx) == 0 or len(train_idx) < need:
        raise DataError(f"the series has {rows} rows, too short for {_settings(spec, cv, gap, n_test)}: "
                        f"{_rows_hint(spec, need)}; lower the window or the folds, or use more data")
    folds = make_folds(len(train_idx), scheme, cv.folds, gap, seed)
    scale = naive_error(w.original[: rows - n_test], spec.season)[None]
    every = np.arange(len(w.t_last))[::-1][:: spec.stride][::-1]  # thinned from the end, as the training windows
    return Prepared(w.x, w.y, w.y_orig, train_idx, test_idx, folds, w, w.target_time, scale, None, every)


def _select(w: Windows, rows: int, spec: DataSpec) -> tuple[np.ndarray, np.ndarray, int]:
    """A series' training windows (every target before its test split, thinned by the stride from the end), its
    test windows (first target in the test split) and the test split's rows."""
    n_test = _test_rows(spec, rows)
    split_row = rows - n_test  # first row of the test period
    test_idx = np.flatnonzero(w.t_last + 1 >= split_row)
    candidates = np.flatnonzero(w.t_last + spec.horizon < split_row)  # every target before the test period
    return candidates[::-1][:: spec.stride][::-1], test_idx, n_test  # thinned from the end: keep the latest


def _gap(spec: DataSpec, cv: CVSpec, scheme: str) -> int:
    """Windows left out before each validation block: by default enough that no training window's targets
    reach into it."""
    if cv.gap is not None:
        return cv.gap
    return math.ceil((spec.window + spec.horizon - 1) / spec.stride) if scheme == "time" else 0


def _settings(spec: DataSpec, cv: CVSpec, gap: int, n_test: int) -> str:
    return (f"window={spec.window}, horizon={spec.horizon}, {cv.folds} folds (a gap of {gap} windows) and a test "
            f"split of {n_test} rows")


def _panel_rows(spec: DataSpec) -> int:
    """The fewest rows a series of a panel needs: its test split and one row before it (windows are padded
    before a series begins), and the differencing lags."""
    lags = (1 if spec.difference else 0) + spec.seasonal_difference  # rows - test >= 1 + lags, as _prepare_panel
    return next((rows for rows in range(1, 1_000_000) if rows - _test_rows(spec, rows) >= 1 + lags
                 and _test_rows(spec, rows) >= spec.horizon), 1_000_000)


def _prepare_panel(frames: dict[str, pd.DataFrame], spec: DataSpec, cv: CVSpec, scheme: str) -> Prepared:
    """Every series windowed on its own; the test split and the fold cutoffs the same in each (panel_folds)."""
    if scheme != "time":
        raise ConfigError('cv.scheme = "kfold" shuffles independent samples; the folds of several series are time '
                          'cutoffs: set cv.scheme = "time" (or "auto")')
    frames = {k: _select_range(f, spec) for k, f in frames.items()}
    rows = np.array([len(f) for f in frames.values()])
    columns = next(iter(frames.values())).shape[1]
    _check_sizes(spec, cv, int(rows.sum()), columns, spec.horizon * len(spec.targets), len(frames))
    w = panel_windows(frames, spec.targets, spec)
    chosen = [_select(part, n, spec) for part, n in zip(w.parts, rows, strict=True)]
    gap = _gap(spec, cv, scheme)
    lags = (1 if spec.difference else 0) + spec.seasonal_difference
    short = [s for s, (_, test, n_test) in enumerate(chosen) if len(test) == 0 or rows[s] - n_test < 1 + lags]
    if short:  # a series needs its test window; its training and validation windows may be few or none (a
        first = short[0]  # global model learns from the others)
        raise DataError(f"{len(short)} of {len(rows)} series {'is' if len(short) == 1 else 'are'} too short for "
                        f"horizon={spec.horizon} and a test split of {chosen[first][2]} rows: "
                        f"series {w.ids[first]!r} has {rows[first]} rows, it needs at least {_panel_rows(spec)}; "
                        f"leave such series out with data.min_length, or lower test_size")
    offsets = w.offsets[:-1]
    train_idx = np.concatenate([o + train for o, (train, _, _) in zip(offsets, chosen, strict=True)])
    test_idx = np.concatenate([o + test for o, (_, test, _) in zip(offsets, chosen, strict=True)])
    folds = panel_folds([len(train) for train, _, _ in chosen], cv.folds, gap)
    split_rows = rows - np.array([n for _, _, n in chosen])
    scale = w.mase_scale(split_rows, spec.season)
    every = np.concatenate([o + np.arange(n)[::-1][:: spec.stride][::-1] for o, n in
                            zip(offsets, np.diff(w.offsets), strict=True)])
    return Prepared(w.x, w.y, w.y_orig, train_idx, test_idx, folds, w, w.target_time, scale, split_rows, every)
