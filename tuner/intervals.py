"""Prediction intervals from the residuals cross-validation already produces (split-conformal, per column).

Each fold's models forecast windows they never trained on; the absolute errors of those out-of-fold forecasts,
per step ahead and target, give a half-width that covers a new forecast's error with probability `coverage`
if the future errs like the past did (the conformal quantile: the ceil((n + 1) * coverage)-th smallest of n).
Beyond the trained horizon (tuner predict --steps) the forecaster feeds its forecasts back, and the intervals
come from simulated paths that add resampled residuals at each step, so they widen as errors compound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError

DEFAULT_COVERAGE = 0.9
MAX_RESIDUALS = 100_000  # a saved model's residual pool; more is a tampered file


@dataclass(frozen=True)
class Intervals:
    coverage: float
    residuals: np.ndarray  # (n, columns): out-of-fold actual - forecast, original units; columns as predictions

    @property
    def width(self) -> np.ndarray:
        """The half-width per column: the conformal quantile of the absolute residuals."""
        return conformal_width(self.residuals, self.coverage)

    def to_dict(self) -> dict:
        return {"format": "tuner.Intervals/1", "coverage": self.coverage, "width": self.width.tolist(),
                "residuals": self.residuals.tolist()}

    @classmethod
    def from_dict(cls, d: object, where: object) -> Intervals:
        damaged = ConfigError(f"{where} is damaged; retrain with tuner train")
        if not isinstance(d, dict) or d.get("format") != "tuner.Intervals/1":
            raise damaged
        rows, coverage = d.get("residuals"), d.get("coverage")
        if not isinstance(rows, list) or not 0 < len(rows) <= MAX_RESIDUALS or not isinstance(coverage, float) \
                or not 0 < coverage < 1:
            raise damaged
        try:
            residuals = np.asarray(rows, dtype=float)
        except (TypeError, ValueError):
            raise damaged from None
        if residuals.ndim != 2 or residuals.shape[1] > MAX_RESIDUALS or not np.isfinite(residuals).all():
            raise damaged
        return cls(coverage, residuals)


def conformal_width(residuals: np.ndarray, coverage: float) -> np.ndarray:
    """Per column, the ceil((n + 1) * coverage)-th smallest absolute residual: a split-conformal half-width.
    With too few residuals for the coverage asked, the largest (the interval is then narrower than promised:
    tuner train reports the test split's empirical coverage beside it)."""
    n = len(residuals)
    rank = min(max(math.ceil((n + 1) * coverage), 1), n)
    return np.sort(np.abs(residuals), axis=0)[rank - 1]


def out_of_fold(folds: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray,
                                                                                   np.ndarray]:
    """Concatenate (keys, forecast, actual) over folds: keys name what a row forecasts (its first target's
    row), so several configs' rows can be matched."""
    keys = np.concatenate([k for k, _, _ in folds])
    return keys, np.concatenate([p for _, p, _ in folds]), np.concatenate([a for _, _, a in folds])


def ensemble_residuals(members: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
    """The residuals of the members' mean forecast, on the rows every member forecast out of fold (members
    with other windows have other folds)."""
    common = members[0][0]
    for keys, _, _ in members[1:]:
        common = np.intersect1d(common, keys)
    if len(common) == 0:
        raise ConfigError("these configs share no out-of-fold windows, so their ensemble has no residuals for "
                          "intervals; train configs of one study")
    rows = [np.searchsorted(keys, common, sorter=np.argsort(keys)) for keys, _, _ in members]
    order = [np.argsort(keys) for keys, _, _ in members]
    forecasts = [p[o][r] for (_, p, _), o, r in zip(members, order, rows, strict=True)]
    actual = members[0][2][order[0]][rows[0]]
    return actual - np.mean(forecasts, axis=0)


def coverage_of(actual: np.ndarray, forecast: np.ndarray, width: np.ndarray) -> float:
    """The share of actual values inside forecast +- width."""
    return float(np.mean(np.abs(actual - forecast) <= width))


__all__ = ["DEFAULT_COVERAGE", "Intervals", "conformal_width", "coverage_of", "ensemble_residuals", "out_of_fold"]
