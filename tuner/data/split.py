"""One train/evaluation split: windows scaled with its training part's statistics (per series), its forecasts
mapped back to original units and scored, the baselines on the same split; and the Scaling a trained model keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError
from . import baselines
from .metrics import score_of, scores
from .scaling import SeriesScaler
from .windows import per_column, window_keys

if TYPE_CHECKING:
    from .panel import PanelWindows
    from .windows import Windows


@dataclass(frozen=True)
class Scaling:
    """The standardisation a model was trained with: inputs per feature, targets per output column; for a panel
    one row of each per series (S, C), in the order of `ids`."""

    x_mean: np.ndarray
    x_scale: np.ndarray
    y_mean: np.ndarray
    y_scale: np.ndarray
    ids: tuple[str, ...] = ()  # a panel's series ids (empty for one series)

    def x(self, x: np.ndarray, series: np.ndarray | None = None) -> np.ndarray:
        """Unscaled windows (N, T, D) (of the given series, for a panel) -> what the model sees."""
        if self.x_mean.ndim == 1:
            return (x - self.x_mean) / self.x_scale
        return SeriesScaler(self.x_mean, self.x_scale).transform(x, _series(series, len(x)))

    def y_original(self, pred: np.ndarray, series: np.ndarray | None = None) -> np.ndarray:
        """The model's scaled outputs -> the targets' units (before any window transform is undone)."""
        if self.y_mean.ndim == 1:
            return pred * self.y_scale + self.y_mean
        rows = _series(series, len(pred))
        return pred * self.y_scale[rows] + self.y_mean[rows]

    def to_dict(self) -> dict[str, list]:
        out: dict[str, list] = {k: getattr(self, k).tolist() for k in ("x_mean", "x_scale", "y_mean", "y_scale")}
        if self.ids:
            out["ids"] = list(self.ids)
        return out

    @classmethod
    def from_dict(cls, d: dict, where: object = "scaling") -> Scaling:
        try:
            arrays = {k: np.asarray(d[k], dtype=float) for k in ("x_mean", "x_scale", "y_mean", "y_scale")}
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{where}: the scaling is damaged; retrain with tuner train") from None
        ids = d.get("ids", [])
        panel = len(ids) > 0
        if any(a.ndim != 1 + panel or not np.isfinite(a).all() or (panel and len(a) != len(ids))
               for a in arrays.values()) or not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise DataError(f"{where}: the scaling is damaged; retrain with tuner train")
        return cls(**arrays, ids=tuple(ids))


def _series(series: np.ndarray | None, n: int) -> np.ndarray:
    if series is None or len(series) != n:
        raise ValueError("a panel's scaling needs each window's series")
    return series


@dataclass
class Split:
    """One train/evaluation split, scaled with statistics of its training part only (each series' own)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_eval: np.ndarray
    y_eval: np.ndarray
    y_eval_orig: np.ndarray  # the evaluation targets in original units
    _x_scaler: SeriesScaler
    _y_scaler: SeriesScaler
    _windows: Windows | PanelWindows | None  # None for independent sequences: only scaling to undo
    _eval_idx: np.ndarray
    _persistence: np.ndarray | None  # last observed values of the evaluation windows, original units
    _y_train_orig: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 0)))
    _eval_series: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, dtype=int))
    mase_scale: np.ndarray | None = field(repr=False, default=None)  # each evaluation value's MASE denominator
    ids: tuple[str, ...] = ()  # a panel's series ids
    _series_means: np.ndarray | None = field(repr=False, default=None)  # a panel's: each series' mean so far

    @property
    def keys(self) -> np.ndarray:
        """What each evaluation row forecasts (windows.KEY: the series, and its first target's row there; its
        sample for independent sequences), so forecasts of several configs can be matched."""
        if self._windows is None:
            return window_keys(self._eval_idx)
        return self._windows.keys(self._eval_idx)

    @property
    def eval_series(self) -> np.ndarray:
        """The series of each evaluation row (0 for one series)."""
        return self._eval_series if len(self._eval_series) else np.zeros(len(self._eval_idx), dtype=int)

    def scaling(self) -> Scaling:
        """The standardisation of this split's training part, as a model trained on it needs it later."""
        xs, ys = self._x_scaler, self._y_scaler
        if len(xs.mean) == 1 and not self.ids:
            return Scaling(xs.mean[0], xs.scale[0], ys.mean[0], ys.scale[0])
        return Scaling(xs.mean, xs.scale, ys.mean, ys.scale, self.ids)

    def to_original(self, pred: np.ndarray) -> np.ndarray:
        """Scaled predictions for the evaluation windows -> original units."""
        raw = self._y_scaler.inverse(pred, self.eval_series)  # in the prediction's dtype, as sklearn does it
        return raw if self._windows is None else self._windows.to_original(raw, self._eval_idx)

    def score(self, pred: np.ndarray) -> dict[str, float]:
        """MSE, RMSE and MAE in original units (and sMAPE and MASE for series), for scaled predictions."""
        return scores(self.to_original(pred), self.y_eval_orig, self.mase_scale)

    def metric_score(self, pred: np.ndarray, metric: str = "mse") -> float:
        """One metric (data/metrics.METRICS) of scaled predictions, in original units."""
        return score_of(metric, self.to_original(pred), self.y_eval_orig, self.mase_scale)

    def baseline_forecasts(self, season: int = 0) -> dict[str, np.ndarray]:
        """Persistence (series only), seasonal naive (series with a `season`), the training mean (each series'
        own) and ridge on the lag window: their forecasts of the evaluation windows, original units."""
        n, horizon_cols = self.y_eval_orig.shape
        out = {}
        if self._persistence is not None and self._windows is not None:
            horizon = horizon_cols // self._persistence.shape[1]
            out["persistence"] = baselines.persistence(self._persistence, horizon)
            if season:
                out["seasonal naive"] = self._windows.seasonal_naive(self._eval_idx, season, horizon)
        out["mean"] = (baselines.mean(self._y_train_orig, n) if self._series_means is None else
                       per_column(self._series_means, horizon_cols, self.eval_series))
        out["ridge"] = self.to_original(baselines.ridge(self.x_train, self.y_train, self.x_eval))
        return out

    def baselines(self, season: int = 0, forecasts: dict[str, np.ndarray] | None = None
                  ) -> dict[str, dict[str, float]]:
        """The baselines' scores on this split (their `forecasts`, baseline_forecasts by default), as the
        model's are scored."""
        forecasts = self.baseline_forecasts(season) if forecasts is None else forecasts
        return {name: scores(forecast, self.y_eval_orig, self.mase_scale) for name, forecast in forecasts.items()}
