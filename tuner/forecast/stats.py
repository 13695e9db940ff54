"""Statistical partners (the optional extra `tuner[stats]`: statsforecast): AutoETS, AutoTheta or AutoARIMA fitted
on each window's history in original units and forecasting its horizon, shown beside the baselines and, with
`tuner train --combine`, averaged with the RNN's forecast in equal parts.

Why a plain mean: the M4 lesson (combinations win) measured on M3 monthly (docs/m3.md): the mean of tuner's
global RNN, AutoETS and AutoTheta scores below each of them and below the published Theta; equal weights rather
than estimated ones for the reason blend.py gives (estimated weights lose to simple ones more often than not,
and the RNN's out-of-fold errors are optimistic). Each partner is refitted at every window it forecasts, on the
values before it: what it would have known there. The intervals stay the RNN's (its out-of-fold residuals, centred
on the combined forecast): the partners have no out-of-fold forecasts without refitting them at every validation
window of every fold; tuner train prints the test split's coverage beside them.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..limits import check_fits

if TYPE_CHECKING:
    from ..data.prepare import Prepared

PARTNERS = {"ets": "AutoETS", "theta": "AutoTheta", "arima": "AutoARIMA"}  # --combine name -> statsforecast model
MIN_HISTORY = 10  # values a partner is fitted on at least (statsforecast's ETS refuses 6 or fewer: "tiny datasets")
FRAME_BYTES = 64  # statsforecast's frame per history value (id, time and value, and its sorted copies)
MAX_FITS = 20_000  # windows one call refits the partners at (a fit takes 0.02-1 s): beyond, refused with the fix
_cache: dict[tuple, np.ndarray] = {}  # (model, season, horizon, history digest) -> forecast: an ensemble's members
_CACHE_ENTRIES = 200_000  # share their test windows' partner forecasts; cleared when full


def partner_names(text: str | Sequence[str]) -> tuple[str, ...]:
    """The partners named (a comma list or a sequence), checked, and statsforecast importable."""
    names = tuple(n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip())
    unknown = [n for n in names if n not in PARTNERS]
    if unknown or not names:
        raise ConfigError(f"--combine takes a comma list of {', '.join(PARTNERS)}, got {unknown or text!r}")
    try:
        import statsforecast  # noqa: F401
    except ImportError:
        raise ConfigError("--combine needs statsforecast, the optional extra: pip install 'tuner[stats]'") from None
    return names


def partner_forecasts(names: Sequence[str], histories: list[np.ndarray], horizon: int, season: int
                      ) -> dict[str, np.ndarray]:
    """Each partner's `horizon`-step forecast from the end of every history (1-D, original units), refitted on
    each: {name: (n, horizon)}; NaN where a history has fewer than MIN_HISTORY values or a missing one (a window at
    a series' start, data.missing = "keep") or the model cannot fit it: there the combination is the RNN's alone."""
    if len(histories) > MAX_FITS:
        raise DataError(f"combining with {', '.join(names)} refits them at each of {len(histories)} windows (at most "
                        f"{MAX_FITS}); forecast a shorter file, or use --steps for the forecast past the end")
    values = sum(len(h) for h in histories)  # statsforecast's frame holds every history: a long series' many
    check_fits(f"fitting {', '.join(names)} on {len(histories)} windows' histories ({values} values)",  # windows
               values * FRAME_BYTES, "forecast a shorter file, or use --steps for the forecast past the end")
    keys = [hashlib.blake2b(np.ascontiguousarray(h, dtype=float).tobytes(), digest_size=16).digest()
            for h in histories]  # a digest, not the values: the cache stays small whatever the histories' length
    usable = [len(h) >= MIN_HISTORY and bool(np.isfinite(h).all()) for h in histories]
    out = {}
    for name in names:
        tag = (PARTNERS[name], season, horizon)
        todo = [i for i, k in enumerate(keys) if usable[i] and (*tag, k) not in _cache]
        if todo:
            fresh = _fit(PARTNERS[name], [histories[i] for i in todo], horizon, season)
            if len(_cache) + len(todo) > _CACHE_ENTRIES:
                _cache.clear()
            _cache.update({(*tag, keys[i]): f for i, f in zip(todo, fresh, strict=True)})
        nan = np.full(horizon, np.nan)
        out[name] = np.stack([_cache[(*tag, k)] if ok else nan for k, ok in zip(keys, usable, strict=True)]) \
            if keys else np.empty((0, horizon))
    return out


def _fit(model: str, histories: list[np.ndarray], horizon: int, season: int) -> list[np.ndarray]:
    """statsforecast's `model` fitted on each history, both cores at work, its forecasts in the histories' order."""
    import statsforecast.models as models
    from statsforecast import StatsForecast

    frame = pd.DataFrame({"unique_id": np.repeat(np.arange(len(histories)), [len(h) for h in histories]),
                          "ds": np.concatenate([np.arange(len(h)) for h in histories]),
                          "y": np.concatenate(histories).astype(float)})
    new = getattr(models, model)
    sf = StatsForecast(models=[new(season_length=max(season, 1))], freq=1,
                       n_jobs=min(os.cpu_count() or 1, 2 if len(histories) > 50 else 1))
    with warnings.catch_warnings():  # statsforecast warns of fits it falls back from; the forecast is what counts
        warnings.simplefilter("ignore")
        try:
            out = sf.forecast(df=frame, h=horizon).sort_values(["unique_id", "ds"])
            return list(out[model].to_numpy(dtype=float).reshape(len(histories), horizon))
        except Exception:  # noqa: BLE001 - one history it cannot fit (constant, too short for its season) fails
            return [_one(new(season_length=max(season, 1)), h, horizon) for h in histories]  # all: find which


def _one(model: object, history: np.ndarray, horizon: int) -> np.ndarray:
    """One history's forecast, NaN where the model cannot fit it."""
    try:
        return np.asarray(model.forecast(y=history.astype(float), h=horizon)["mean"], dtype=float)  # type: ignore
    except Exception:  # noqa: BLE001 - statsforecast raises ValueError, NotImplementedError, numba errors...
        return np.full(horizon, np.nan)


def combine(rnn: np.ndarray, partners: dict[str, np.ndarray]) -> np.ndarray:
    """The plain mean of the RNN's forecast and the partners' (all (n, horizon), original units), over those that
    forecast each window (the RNN always does)."""
    stacked = np.stack([rnn, *partners.values()])
    return np.nansum(stacked, axis=0) / np.isfinite(stacked).sum(axis=0)


def check_combine(combine: tuple[str, ...], series: bool, targets: int) -> None:
    """Statistical partners forecast one target of a time series (not independent samples) from its history."""
    if combine and (not series or targets != 1):
        raise ConfigError(f"--combine forecasts one target of a time series from its own history; this study has "
                          f"{'independent sequences' if not series else f'{targets} targets'}: train without "
                          f"--combine")


def combine_test_split(names: tuple[str, ...], prepared: Prepared, forecast: np.ndarray, shown: dict[str, np.ndarray],
                  season: int) -> np.ndarray:
    """The test split's forecast (original units) averaged with the partners', each refitted on every test
    window's history; their forecasts join `shown` (the baselines, by statsforecast's names). As is without."""
    if not names:
        return forecast
    partners = partner_forecasts(names, window_histories(prepared.windows, prepared.test_idx), forecast.shape[1],
                                 season)
    shown.update({PARTNERS[name]: f for name, f in partners.items()})
    return combine(forecast, partners)


def window_histories(windows: object, idx: np.ndarray) -> list[np.ndarray]:
    """The first target's original values up to the last input row of each window idx (one series' Windows or
    a panel's PanelWindows): what a statistical model forecasting from there is fitted on."""
    parts = getattr(windows, "parts", None)
    t_last = windows.t_last[idx]  # type: ignore[attr-defined]
    if parts is None:
        return [windows.original[: t + 1, 0] for t in t_last]  # type: ignore[attr-defined]
    series = windows.series[idx]  # type: ignore[attr-defined]
    return [parts[s].original[: t + 1, 0] for s, t in zip(series, t_last, strict=True)]


__all__ = ["MAX_FITS", "PARTNERS", "check_combine", "combine", "partner_forecasts", "partner_names",
           "window_histories", "combine_test_split"]
