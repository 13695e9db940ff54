"""A forecast made of forecasts. A blend (a config's members and the study's ridge beside them) and an ensemble
(the top configs' forecasters) are each a weighted sum of predictors' forecasts, taken on the windows every one of
them forecasts (a predictor with a longer window starts later). Written once, so that neither the blend's
partner nor an ensemble is a special case where windows, panels or --steps blocks are forecast."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

P = TypeVar("P")
L = TypeVar("L")


def mix(parts: Sequence[tuple[float, P]], forecast: Callable[[P], tuple[np.ndarray, np.ndarray, L]]
        ) -> tuple[np.ndarray, np.ndarray, L]:
    """sum(weight x forecast) over the parts, on the windows all of them forecast. `forecast(part)` gives a
    part's forecasts (n, columns), what each forecasts (n keys: a row, or a panel's (series, row)) and where its
    windows are (its layout). Returns the mixed forecasts, the indices of their windows among the first part's
    (in its order) and the first part's layout."""
    (weight, first), *rest = parts
    out, keys, layout = forecast(first)
    idx = np.arange(len(keys))
    total = weight * out
    for weight, part in rest:
        other, other_keys, _ = forecast(part)
        _, i, j = np.intersect1d(keys[idx], other_keys, return_indices=True)
        order = np.argsort(i)  # intersect1d sorts by key; keep the first part's order
        i, j = i[order], j[order]
        idx, total = idx[i], total[i] + weight * other[j]
    return total, idx, layout


def keyed_rows(forecast: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A forecast of one series' windows for mix: a window's key is the first row it forecasts; the layout, the
    rows (n, horizon) each forecasts."""
    return forecast, rows[:, 0], rows


def mean(predictors: Sequence[P], forecast: Callable[[P], tuple[np.ndarray, np.ndarray, L]]
         ) -> tuple[np.ndarray, np.ndarray, L]:
    """The plain mean of the predictors' forecasts (an ensemble's members), as mix gives it: summed in order, then
    divided by their number, as np.mean computes it (so the digits are the ones it printed before mix)."""
    total, idx, layout = mix([(1.0, p) for p in predictors], forecast)
    return total / len(predictors), idx, layout


__all__ = ["keyed_rows", "mean", "mix"]
