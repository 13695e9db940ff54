"""Standardisation per series, so a global model sees every series on one scale (NeuralForecast's local scalers).

One series: the statistics of its training windows (StandardScaler, as ever). A panel: each series' statistics of
its own rows before the split's cutoff, the history a forecast from there knows, so a short series with no
training window of its own in a fold (a global model learns from the others) is still scaled by itself."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.preprocessing import StandardScaler


@dataclass(frozen=True)
class SeriesScaler:
    mean: np.ndarray  # (S, C): per series, per column
    scale: np.ndarray  # (S, C)

    @classmethod
    def fit(cls, values: np.ndarray) -> SeriesScaler:
        """One series: StandardScaler over its training windows' values (n, ..., C), per column."""
        fitted = StandardScaler().fit(values.reshape(-1, values.shape[-1]))
        return cls(fitted.mean_[None], fitted.scale_[None])

    @classmethod
    def from_rows(cls, rows: list[np.ndarray], cutoffs: np.ndarray, relative: int = 0) -> SeriesScaler:
        """Per series s, the mean and standard deviation of rows[s][:cutoffs[s]] per column (rows: the values
        windows are cut from, NaN where a difference is undefined; none known: 0 and 1). The first `relative`
        columns are held relative to each window's last value (normalise = "last"): centred at 0, only scaled."""
        with warnings.catch_warnings():  # a series with no known row yet: NaN, replaced below
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.stack([np.nanmean(r[:c], axis=0) for r, c in zip(rows, cutoffs, strict=True)])
            scale = np.stack([np.nanstd(r[:c], axis=0) for r, c in zip(rows, cutoffs, strict=True)])
        mean[:, :relative] = 0.0
        return cls(np.nan_to_num(mean), np.where(np.isfinite(scale) & (scale > 0), scale, 1.0))

    def targets(self, n_targets: int, horizon: int) -> SeriesScaler:
        """The scaler of the targets' columns (horizon-major), from an inputs scaler whose first columns are the
        targets."""
        return SeriesScaler(np.tile(self.mean[:, :n_targets], (1, horizon)),
                            np.tile(self.scale[:, :n_targets], (1, horizon)))

    def _shape(self, a: np.ndarray, series: np.ndarray, ndim: int) -> np.ndarray:
        """Each row's statistics, shaped to broadcast over values (n, ..., C); one series' broadcast as they are."""
        return a[0] if len(a) == 1 else a[series].reshape(len(series), *([1] * (ndim - 2)), -1)

    def transform(self, values: np.ndarray, series: np.ndarray) -> np.ndarray:
        """values (n, ..., C) of rows of the given series -> standardised; a padded step (NaN: before its series
        began) becomes 0, the series' mean."""
        out = (values - self._shape(self.mean, series, values.ndim)) / self._shape(self.scale, series, values.ndim)
        np.copyto(out, 0.0, where=np.isnan(out))
        return out

    def inverse(self, values: np.ndarray, series: np.ndarray) -> np.ndarray:
        """Standardised (n, ..., C) -> original units, in the values' own dtype (as StandardScaler does it)."""
        raw = np.array(values, copy=True)
        raw *= self._shape(self.scale, series, raw.ndim).astype(raw.dtype)
        raw += self._shape(self.mean, series, raw.ndim).astype(raw.dtype)
        return raw
