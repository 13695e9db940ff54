"""Prepared data: windows, the held-out test split and the folds, computed once per data setting; a Split
is one train/evaluation pair scaled with its training part's statistics."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

from ..errors import DataError
from ..limits import check_fits
from . import baselines
from .datasets import DATASETS, Sequences
from .folds import make_folds, min_samples
from .windows import Windows, lookback, window_keys, windows_bytes, windows_for

if TYPE_CHECKING:  # data sits below the specs: it reads their fields, never imports them
    from ..config.spec import CVSpec, DataSpec

__all__ = ["Prepared", "Scaling", "Split", "prepare", "scores"]


def scores(pred: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    err = pred - actual
    mse = float(np.mean(err**2))
    return {"mse": mse, "rmse": math.sqrt(mse), "mae": float(np.mean(np.abs(err)))}


@dataclass(frozen=True)
class Scaling:
    """The standardisation a model was trained with: inputs per feature, targets per output column."""

    x_mean: np.ndarray
    x_scale: np.ndarray
    y_mean: np.ndarray
    y_scale: np.ndarray

    def x(self, x: np.ndarray) -> np.ndarray:
        """Unscaled windows (N, T, D) -> what the model sees."""
        return (x - self.x_mean) / self.x_scale

    def y_original(self, pred: np.ndarray) -> np.ndarray:
        """The model's scaled outputs -> the targets' units (before any window transform is undone)."""
        return pred * self.y_scale + self.y_mean

    def to_dict(self) -> dict[str, list[float]]:
        return {k: getattr(self, k).tolist() for k in ("x_mean", "x_scale", "y_mean", "y_scale")}

    @classmethod
    def from_dict(cls, d: dict, where: object = "scaling") -> Scaling:
        try:
            arrays = {k: np.asarray(d[k], dtype=float) for k in ("x_mean", "x_scale", "y_mean", "y_scale")}
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{where}: the scaling is damaged; retrain with tuner train") from None
        if any(a.ndim != 1 or not np.isfinite(a).all() for a in arrays.values()):
            raise DataError(f"{where}: the scaling is damaged; retrain with tuner train")
        return cls(**arrays)


@dataclass
class Split:
    """One train/evaluation split, scaled with statistics of its training part only."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_eval: np.ndarray
    y_eval: np.ndarray
    y_eval_orig: np.ndarray  # the evaluation targets in original units
    _x_scaler: StandardScaler
    _y_scaler: StandardScaler
    _windows: Windows | None  # None for independent sequences: only scaling to undo
    _eval_idx: np.ndarray
    _persistence: np.ndarray | None  # last observed values of the evaluation windows, original units
    _y_train_orig: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 0)))

    @property
    def keys(self) -> np.ndarray:
        """What each evaluation row forecasts (windows.KEY: the series, and its first target's row there; its
        sample for independent sequences), so forecasts of several configs can be matched."""
        rows = self._eval_idx if self._windows is None else self._windows.t_last[self._eval_idx] + 1
        return window_keys(rows)

    def scaling(self) -> Scaling:
        """The standardisation of this split's training part, as a model trained on it needs it later."""
        return Scaling(self._x_scaler.mean_, self._x_scaler.scale_, self._y_scaler.mean_, self._y_scaler.scale_)

    def to_original(self, pred: np.ndarray) -> np.ndarray:
        """Scaled predictions for the evaluation windows -> original units."""
        # StandardScaler.inverse_transform's arithmetic, without its input checks: this runs every epoch
        raw = np.array(pred, copy=True)  # as sklearn does it: in the prediction's dtype
        raw *= self._y_scaler.scale_.astype(raw.dtype)
        raw += self._y_scaler.mean_.astype(raw.dtype)
        return raw if self._windows is None else self._windows.to_original(raw, self._eval_idx)

    def score(self, pred: np.ndarray) -> dict[str, float]:
        """MSE, RMSE and MAE in original units, for scaled predictions."""
        return scores(self.to_original(pred), self.y_eval_orig)

    def baselines(self, season: int = 0) -> dict[str, dict[str, float]]:
        """Persistence (series only), seasonal naive (series with a `season`), the training mean and ridge on the
        lag window, in original units."""
        n, horizon_cols = self.y_eval_orig.shape
        out = {}
        if self._persistence is not None and self._windows is not None:
            horizon = horizon_cols // self._persistence.shape[1]
            out["persistence"] = scores(baselines.persistence(self._persistence, horizon), self.y_eval_orig)
            if season:
                out["seasonal naive"] = scores(self._windows.seasonal_naive(self._eval_idx, season, horizon),
                                               self.y_eval_orig)
        out["mean"] = scores(baselines.mean(self._y_train_orig, n), self.y_eval_orig)
        ridge = baselines.ridge(self.x_train, self.y_train, self.x_eval)
        out["ridge"] = self.score(ridge)
        return out


@dataclass
class Prepared:
    x: np.ndarray  # every window/sample, unscaled
    y: np.ndarray
    y_orig: np.ndarray
    train_idx: np.ndarray  # windows used for tuning, in time order
    test_idx: np.ndarray  # windows of the held-out test split
    folds: list[tuple[np.ndarray, np.ndarray]]  # positions within train_idx
    windows: Windows | None = None
    time: pd.Index | None = None  # time of each window's first target (series)

    @property
    def input_size(self) -> int:
        return self.x.shape[2]

    @property
    def output_size(self) -> int:
        return self.y.shape[1]

    def split(self, train: np.ndarray, evaluate: np.ndarray) -> Split:
        """Scale with `train`'s statistics; both are indices into all windows."""
        C = self.input_size
        xs = StandardScaler().fit(self.x[train].reshape(-1, C))
        ys = StandardScaler().fit(self.y[train])

        def sx(idx):
            return xs.transform(self.x[idx].reshape(-1, C)).reshape(len(idx), -1, C)

        last = self.windows.last_orig[evaluate] if self.windows is not None else None
        return Split(sx(train), ys.transform(self.y[train]), sx(evaluate), ys.transform(self.y[evaluate]),
                     self.y_orig[evaluate], xs, ys, self.windows, evaluate, last, self.y_orig[train])

    def fold(self, i: int) -> Split:
        return self._folds[i]

    @cached_property
    def _folds(self) -> list[Split]:
        return [self.split(self.train_idx[tr], self.train_idx[va]) for tr, va in self.folds]

    def test(self) -> Split:
        """Everything tuning saw -> the held-out test split."""
        return self.split(self.train_idx, self.test_idx)


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


def _check_sizes(spec: DataSpec, cv: CVSpec, rows: int, columns: int, outputs: int) -> None:
    """Refuse data whose windows (and their scaled copy per fold) cannot fit, before they are built."""
    sequences = DATASETS[spec.dataset].sequences
    steps = spec.length if sequences else spec.window
    n_windows = rows if sequences else max(rows - spec.window, 0)
    check_fits(f"the data ({n_windows} windows of {steps} steps x {columns} values)",
               windows_bytes(n_windows, steps, columns, outputs, cv.folds + 1),
               "lower data.n_points, data.length or data.window")


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

    frame = _select_range(loaded, spec)
    targets = spec.targets if dataset.reads_file else (frame.columns[0],)
    rows = len(frame)
    _check_sizes(spec, cv, rows, frame.shape[1], spec.horizon * len(targets))
    n_test = _test_rows(spec, rows)
    w = windows_for(frame, targets, spec)
    split_row = rows - n_test  # first row of the test period
    first_target = w.t_last + 1
    test_idx = np.flatnonzero(first_target >= split_row)
    candidates = np.flatnonzero(w.t_last + spec.horizon < split_row)  # every target before the test period
    train_idx = candidates[::-1][:: spec.stride][::-1]  # thinned from the end: keep the latest window
    gap = cv.gap if cv.gap is not None else (math.ceil((spec.window + spec.horizon - 1) / spec.stride)
                                             if scheme == "time" else 0)
    need = min_samples(scheme, cv.folds, gap)
    if len(test_idx) == 0 or len(train_idx) < need:
        raise DataError(
            f"the series has {rows} rows, too short for window={spec.window}, horizon={spec.horizon}, "
            f"{cv.folds} folds (a gap of {gap} windows) and a test split of {n_test} rows: "
            f"{_rows_hint(spec, need)}; lower the window or the folds, or use more data"
        )
    folds = make_folds(len(train_idx), scheme, cv.folds, gap, seed)
    return Prepared(w.x, w.y, w.y_orig, train_idx, test_idx, folds, w, w.target_time)
