"""Standardisation per series: each series' inputs and targets scaled by the statistics of its own training
windows (NeuralForecast's local scalers), so a global model sees every series on one scale. One series is the
case of one: the same StandardScaler, the same numbers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.preprocessing import StandardScaler


@dataclass(frozen=True)
class SeriesScaler:
    mean: np.ndarray  # (S, C): per series, per column
    scale: np.ndarray  # (S, C)

    @classmethod
    def fit(cls, values: np.ndarray, series: np.ndarray, n_series: int) -> SeriesScaler:
        """values (n, ..., C) of the training windows, series (n,) the series of each. A series with no training
        window (none in a split's training part) gets the pooled statistics."""
        flat = values.reshape(len(values), -1, values.shape[-1])
        pooled = StandardScaler().fit(flat.reshape(-1, flat.shape[-1])) if n_series > 1 else None
        mean, scale = np.empty((n_series, flat.shape[-1])), np.empty((n_series, flat.shape[-1]))
        order = np.argsort(series, kind="stable")
        bounds = np.searchsorted(series[order], np.arange(n_series + 1))
        for s in range(n_series):
            rows = order[bounds[s]:bounds[s + 1]]
            fitted = StandardScaler().fit(flat[rows].reshape(-1, flat.shape[-1])) if len(rows) else pooled
            assert fitted is not None  # one series always has its own training windows
            mean[s], scale[s] = fitted.mean_, fitted.scale_
        return cls(mean, scale)

    def _shape(self, a: np.ndarray, series: np.ndarray, ndim: int) -> np.ndarray:
        """Each row's statistics, shaped to broadcast over values (n, ..., C); one series' broadcast as they are."""
        return a[0] if len(a) == 1 else a[series].reshape(len(series), *([1] * (ndim - 2)), -1)

    def transform(self, values: np.ndarray, series: np.ndarray) -> np.ndarray:
        """values (n, ..., C) of rows of the given series -> standardised."""
        return (values - self._shape(self.mean, series, values.ndim)) / self._shape(self.scale, series, values.ndim)

    def inverse(self, values: np.ndarray, series: np.ndarray) -> np.ndarray:
        """Standardised (n, ..., C) -> original units, in the values' own dtype (as StandardScaler does it)."""
        raw = np.array(values, copy=True)
        raw *= self._shape(self.scale, series, raw.ndim).astype(raw.dtype)
        raw += self._shape(self.mean, series, raw.ndim).astype(raw.dtype)
        return raw
