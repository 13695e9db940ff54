"""Statistical partners: with `tuner train --combine`, the RNN's forecast averaged in equal parts with statsforecast's
AutoETS, AutoTheta or AutoARIMA (data/statistical.py fits them, refitted at every window on the values before it).

Why a plain mean: the M4 lesson (combinations win) measured on M3 monthly (docs/m3.md): the mean of tuner's
global RNN, AutoETS and AutoTheta scores below each of them and below the published Theta; equal weights rather
than estimated ones for the reason blend.py gives (estimated weights lose to simple ones more often than not,
and the RNN's out-of-fold errors are optimistic). The intervals stay the RNN's (its out-of-fold residuals, centred
on the combined forecast): the partners have no out-of-fold forecasts without refitting them at every validation
window of every fold; tuner train prints the test split's coverage beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..data.statistical import STATISTICAL, as_baselines, forecasts, require, window_histories
from ..errors import ConfigError

if TYPE_CHECKING:
    from ..data.prepare import Prepared


def partner_names(text: str | Sequence[str]) -> tuple[str, ...]:
    """The partners named (a comma list or a sequence), checked, and statsforecast importable."""
    names = tuple(n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip())
    unknown = [n for n in names if n not in STATISTICAL]
    if unknown or not names:
        raise ConfigError(f"--combine takes a comma list of {', '.join(STATISTICAL)}, got {unknown or text!r}")
    require("--combine")
    return names


def combine(rnn: np.ndarray, partners: dict[str, np.ndarray]) -> np.ndarray:
    """The plain mean of the RNN's forecast and the partners' (all (n, horizon), original units), over those that
    forecast each window (the RNN always does; a partner not where its history is too short)."""
    stacked = np.stack([rnn, *partners.values()])
    return np.nansum(stacked, axis=0) / np.isfinite(stacked).sum(axis=0)


def combine_test_split(names: tuple[str, ...], prepared: Prepared, forecast: np.ndarray, shown: dict[str, np.ndarray],
                       season: int, compare: tuple[str, ...] = ()) -> np.ndarray:
    """The test split's forecast (original units) averaged with the partners `names`, each refitted on every test
    window's history. Their forecasts, and those of the study's `compare` models, join `shown` (the baselines) by
    statsforecast's names (the seasonal naive forecast, else persistence, where one cannot forecast a window)."""
    every, idx = tuple(dict.fromkeys(names + compare)), prepared.test_idx
    if not every:
        return forecast
    stand_in = shown.get("seasonal naive", shown.get("persistence"))
    shown.update(as_baselines(every, prepared.windows, idx, forecast.shape[1], season, stand_in))
    if not names:
        return forecast  # the partners' forecasts again, from the cache: NaN where the RNN forecasts alone
    return combine(forecast, forecasts(names, window_histories(prepared.windows, idx), forecast.shape[1], season))


__all__ = ["combine", "combine_test_split", "partner_names"]
