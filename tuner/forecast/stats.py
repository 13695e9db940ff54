"""Statistical partners: with `tuner train --combine`, the RNN's forecast averaged in equal parts with statsforecast's
AutoETS, AutoTheta or AutoARIMA (data/statistical.py fits them, refitted at every window on the values before it).

Why a plain mean: the M4 lesson (combinations win) measured on M3 monthly (docs/m3.md): the mean of tuner's
global RNN, AutoETS and AutoTheta scores below each of them and below the published Theta; equal weights rather
than estimated ones for the reason blend.py gives (estimated weights lose to simple ones more often than not,
and the RNN's out-of-fold errors are optimistic). The intervals come from the combination's own out-of-fold errors:
the partners refitted at the validation windows of every fold (combined_out_of_fold; a regular subset beyond
OUT_OF_FOLD_FITS windows); tuner train prints the test split's coverage beside them.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..data.metrics import score_of
from ..data.statistical import MAX_FITS, STATISTICAL, as_baselines, forecasts, key_histories, require, window_histories
from ..data.windows import per_column
from ..errors import ConfigError, TunerError

if TYPE_CHECKING:
    from ..data.prepare import Prepared


AUTO = ("auto",)  # --combine auto: the partners chosen out of fold (choose)
CANDIDATES = ("ets", "theta")  # what auto chooses among, unless the study's [study] compare names others


def partner_names(text: str | Sequence[str]) -> tuple[str, ...]:
    """The partners named (a comma list or a sequence, or "auto" alone), checked, and statsforecast importable."""
    names = tuple(n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip())
    if names == AUTO:
        require("--combine")
        return AUTO
    unknown = [n for n in names if n not in STATISTICAL]
    if unknown or not names:
        raise ConfigError(f"--combine takes auto or a comma list of {', '.join(STATISTICAL)}, got "
                          f"{unknown or text!r}")
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
    shown.update(as_baselines(every, prepared.windows, idx, forecast.shape[1], season, shown))
    if not names:
        return forecast  # the partners' forecasts again, from the cache: NaN where the RNN forecasts alone
    return combine(forecast, forecasts(names, window_histories(prepared.windows, idx), forecast.shape[1], season))


OUT_OF_FOLD_FITS = 2_000  # out-of-fold windows the partners are refitted at (to choose them, to draw the
# combination's intervals): beyond, a regular subset. A fit takes 0.02-1 s: Tourism monthly's 10,248 validation
# windows took over 15 minutes a model on 2 cores; a few thousand residuals fix a quantile as well


def sample(keys: np.ndarray) -> np.ndarray:
    """Which out-of-fold windows (by their keys) the partners are refitted at: all up to OUT_OF_FOLD_FITS, else
    those whose row is a multiple of a stride, so that every member of an ensemble samples the same windows."""
    if len(keys) <= OUT_OF_FOLD_FITS:
        return np.arange(len(keys))
    return np.flatnonzero(keys["row"] % -(-len(keys) // OUT_OF_FOLD_FITS) == 0)


def _sampled(oof: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The out-of-fold rows (keys, forecast, actual) at the windows sample keeps."""
    kept = sample(oof[0])
    return oof[0][kept], oof[1][kept], oof[2][kept]


def combined_out_of_fold(names: tuple[str, ...], oof: tuple[np.ndarray, np.ndarray, np.ndarray],
                         prepared: Prepared, season: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The out-of-fold forecasts (keys, forecast, actual) of the combination itself, so that intervals centred on
    the combination come from its own errors: the RNN's `oof` averaged with the partners `names` refitted at each
    of those windows (a regular subset of them: sample). The RNN's as they are without partners."""
    if not names:
        return oof
    keys, rnn, actual = _sampled(oof)
    found = forecasts(names, key_histories(prepared.windows, keys), rnn.shape[1], season)
    return keys, combine(rnn, found), actual


def to_fit(combine: tuple[str, ...], compare: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The models tuner train fits for these partners (auto: its candidates) and the study's compare models."""
    return tuple(dict.fromkeys(((compare or CANDIDATES) if combine == AUTO else combine) + compare))


def prefit(names: tuple[str, ...], histories: list[np.ndarray], horizon: int, season: int) -> None:
    """Fit the models on the histories into this process's cache, so that helper processes forked after it
    (train --workers) find the forecasts there instead of each fitting them again. Beyond MAX_FITS histories, or
    where a model cannot be used, nothing: each helper fits, or refuses, as it would alone."""
    if names and len(histories) <= MAX_FITS:
        with contextlib.suppress(TunerError):
            forecasts(names, histories, horizon, season)


def choose(candidates: tuple[str, ...], oof: tuple[np.ndarray, np.ndarray, np.ndarray], prepared: Prepared,
           metric: str, season: int) -> tuple[tuple[str, ...], dict[str, float]]:
    """--combine auto: which of the candidates join the RNN, chosen out of fold. Every subset (none too) is scored by
    the study's metric on the RNN's out-of-fold forecasts `oof` (keys, forecast, actual; original units) averaged
    with the candidates refitted at each of those windows (a regular subset of them: sample); the lowest wins, the
    smaller subset on a tie. Returns the subset and each subset's score ("" for the RNN alone)."""
    keys, rnn, actual = _sampled(oof)
    found = forecasts(candidates, key_histories(prepared.windows, keys), rnn.shape[1], season)
    scale = None if prepared.mase_scale is None else per_column(prepared.mase_scale, rnn.shape[1], keys["series"])
    scored = {subset: score_of(metric, combine(rnn, {n: found[n] for n in subset}), actual, scale)
              for k in range(len(candidates) + 1) for subset in itertools.combinations(candidates, k)}
    best = min(scored, key=lambda subset: (scored[subset], len(subset)))
    return best, {"+".join(STATISTICAL[n] for n in subset): v for subset, v in scored.items()}


__all__ = ["AUTO", "CANDIDATES", "choose", "combine", "combine_test_split", "combined_out_of_fold",
           "partner_names", "prefit", "sample", "to_fit"]
