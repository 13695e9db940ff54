"""Prediction intervals from the residuals cross-validation already produces (split-conformal, per column).

Each fold's models forecast windows they never trained on; the absolute errors of those out-of-fold forecasts,
per step ahead and target, give a half-width that covers a new forecast's error with probability `coverage`
if the future errs like the past did (the conformal quantile: the ceil((n + 1) * coverage)-th smallest of n).
Beyond the trained horizon (tuner predict --steps) the forecaster feeds its forecasts back, and the intervals
come from simulated paths that add resampled residuals at each step, so they widen as errors compound.

The future need not err like the past (the sunspots' test years hold the largest cycle on record), so from the
first forecast the model never trained on, each column's level adapts to the errors seen so far: adaptive
conformal inference (Gibbs and Candes, 2021), alpha <- alpha + gamma * (1 - coverage - missed), a miss widening
the next intervals and a hit narrowing them, so that the share of misses tends to 1 - coverage whatever the
shift. An error counts once its value is known: step s of a window's forecast, s windows later.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..data.windows import per_column
from ..errors import ConfigError

DEFAULT_COVERAGE = 0.9
# ACI's step: chosen on the series kept outside the repository (make outside; 0.005..0.1 tried), the only
# value there whose intervals covered within 2.5 points of 90% on co2, El Nino and unemployment without
# reaching the widest residual; checked after on sunspots, Zhang's split and airline (docs/final-models.md)
GAMMA = 0.02
MAX_RESIDUALS = 100_000  # a saved model's residual pool; more is a tampered file


@dataclass(frozen=True)
class Intervals:
    coverage: float
    residuals: np.ndarray  # (n, columns): out-of-fold actual - forecast, original units; columns as predictions
    adapt_from: str | None = None  # the time of the first forecast the model never trained on: levels adapt from it
    level: np.ndarray | None = None  # each column's miscoverage level after the errors seen (None: 1 - coverage)
    gamma: float = GAMMA
    # a panel's: residuals are divided by their series' MASE denominator (scale-free, pooled over series), and a
    # series' half-width is the pooled one times its own denominator (S, targets), series in the order of ids
    scale: np.ndarray | None = None
    ids: tuple[str, ...] = ()

    def series_width(self, ids: np.ndarray) -> np.ndarray:
        """Half-widths (n, columns) at the nominal coverage for rows of the given series ids (a panel's; NaN for
        a series the model was not trained on)."""
        assert self.scale is not None
        at = {k: i for i, k in enumerate(self.ids)}
        pos = np.array([at.get(k, -1) for k in ids], dtype=int)
        per = per_column(self.scale, len(self.width), np.maximum(pos, 0))
        per[pos < 0] = np.nan
        return self.width * per

    @property
    def width(self) -> np.ndarray:
        """The half-width per column at the nominal coverage: the conformal quantile of the absolute residuals."""
        return conformal_width(self.residuals, self.coverage)

    @property
    def alpha(self) -> np.ndarray:
        """Each column's miscoverage level now: 1 - coverage until errors past adapt_from were seen."""
        return self.level if self.level is not None else np.full(self.residuals.shape[1], 1 - self.coverage)

    def walk(self, forecast: np.ndarray, actual: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, Intervals]:
        """Half-widths for consecutive windows' forecasts (m, columns) made from adapt_from on, adapting each
        column's level as the actual values (NaN: not known yet) become known: step steps[c] of row j once row
        j + steps[c] is forecast. Returns the widths and the intervals at the level after every known error."""
        target = 1 - self.coverage
        alpha = self.alpha.astype(float).copy()
        ordered = np.sort(np.abs(self.residuals), axis=0)
        m, columns = forecast.shape
        widths = np.empty((m, columns))
        missed = np.zeros((m, columns), dtype=bool)  # filled in as each row's width is known
        cols = np.arange(columns)
        for i in range(m + int(steps.max())):
            j = i - steps  # per column, the row whose error is known by now
            known = (j >= 0) & (j < m)
            known[known] &= np.isfinite(actual[j[known], cols[known]])
            if known.any():
                alpha[known] = np.clip(alpha[known] + self.gamma * (target - missed[j[known], cols[known]]), 0, 1)
            if i < m:
                widths[i] = _quantile(ordered, 1 - alpha)
                missed[i] = np.abs(actual[i] - forecast[i]) > widths[i]
        return widths, dataclasses.replace(self, level=alpha)

    def to_dict(self) -> dict:
        out = {"format": "tuner.Intervals/1", "coverage": self.coverage, "width": self.width.tolist(),
               "residuals": self.residuals.tolist(), "adapt_from": self.adapt_from, "gamma": self.gamma,
               "level": None if self.level is None else self.level.tolist()}
        if self.scale is not None:
            out.update(scale=self.scale.tolist(), ids=list(self.ids))
        return out

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
        adapt_from, gamma, level = d.get("adapt_from"), d.get("gamma", GAMMA), d.get("level")
        if not (adapt_from is None or isinstance(adapt_from, str)) or not isinstance(gamma, float) \
                or not 0 <= gamma < 1:
            raise damaged
        if level is not None:  # written by tuner train: one level in [0, 1] per column
            if not isinstance(level, list) or len(level) != residuals.shape[1] \
                    or not all(isinstance(a, float) and 0 <= a <= 1 for a in level):
                raise damaged
            level = np.array(level)
        scale, ids = d.get("scale"), d.get("ids", [])
        if scale is not None:  # a panel's: one row of positive denominators per series id
            try:
                scale = np.asarray(scale, dtype=float)
            except (TypeError, ValueError):
                raise damaged from None
            if scale.ndim != 2 or not isinstance(ids, list) or len(ids) != len(scale) or not (scale > 0).all() \
                    or not np.isfinite(scale).all() or residuals.shape[1] % scale.shape[1] \
                    or not all(isinstance(i, str) for i in ids):
                raise damaged
        return cls(coverage, residuals, adapt_from, level, gamma, scale, tuple(ids))


def conformal_width(residuals: np.ndarray, coverage: float) -> np.ndarray:
    """Per column, the ceil((n + 1) * coverage)-th smallest absolute residual: a split-conformal half-width.
    With too few residuals for the coverage asked, the largest (the interval is then narrower than promised:
    tuner train reports the test split's empirical coverage beside it)."""
    return _quantile(np.sort(np.abs(residuals), axis=0), np.full(residuals.shape[1], coverage))


def _quantile(ordered: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """Per column c, the ceil((n + 1) * coverage[c])-th of the sorted absolute residuals, within 1..n."""
    n = len(ordered)
    rank = np.clip(np.ceil((n + 1) * coverage).astype(int), 1, n)
    return ordered[rank - 1, np.arange(ordered.shape[1])]


def out_of_fold(folds: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray,
                                                                                   np.ndarray]:
    """Concatenate (keys, forecast, actual) over folds: keys name what a row forecasts (its first target's
    row), so several configs' rows can be matched."""
    keys = np.concatenate([k for k, _, _ in folds])
    return keys, np.concatenate([p for _, p, _ in folds]), np.concatenate([a for _, _, a in folds])


def ensemble_residuals(members: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                       scale: np.ndarray | None = None) -> np.ndarray:
    """The residuals of the members' mean forecast, on the rows every member forecast out of fold (members
    with other windows have other folds); with a panel's `scale` (Intervals.scale), over their series'."""
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
    residuals = actual - np.mean(forecasts, axis=0)
    if scale is None:
        return residuals
    return residuals / per_column(scale, residuals.shape[1], common["series"])


def coverage_of(actual: np.ndarray, forecast: np.ndarray, width: np.ndarray) -> float:
    """The share of actual values inside forecast +- width."""
    return float(np.mean(np.abs(actual - forecast) <= width))


__all__ = ["DEFAULT_COVERAGE", "GAMMA", "Intervals", "conformal_width", "coverage_of", "ensemble_residuals",
           "out_of_fold"]
