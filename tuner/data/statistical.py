"""Statistical models (the optional extra `tuner[stats]`: statsforecast's AutoETS, AutoTheta, AutoARIMA) fitted on
each window's history in original units and forecasting its horizon: what a forecaster would use instead of the
RNN, scored beside the baselines (`[study] compare`) and averaged with it (`tuner train --combine`,
forecast/stats.py). Each is refitted at every window it forecasts, on the values before it: what it would have
known there. Never a hand-written ETS."""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError, DataError
from ..limits import check_fits

STATISTICAL = {"ets": "AutoETS", "theta": "AutoTheta", "arima": "AutoARIMA"}  # the name a user writes -> the model
MIN_HISTORY = 10  # values a model is fitted on at least (statsforecast's ETS refuses 6 or fewer: "tiny datasets")
FRAME_BYTES = 64  # statsforecast's frame per history value (id, time and value, and its sorted copies)
MAX_FITS = 20_000  # windows one call refits the models at (a fit takes 0.02-1 s): beyond, refused with the fix
_cache: dict[tuple, np.ndarray] = {}  # (model, season, horizon, history digest) -> forecast: an ensemble's members
_CACHE_ENTRIES = 200_000  # share their test windows' forecasts, a study's workers its folds'; cleared when full


def require(what: str) -> None:
    """statsforecast importable, else one line with the install command (`what` asked for it)."""
    try:
        import statsforecast  # noqa: F401
    except ImportError:
        raise ConfigError(f"{what} needs statsforecast, the optional extra: pip install 'tuner[stats]'") from None


SHORTER = "forecast a shorter file, or use --steps for the forecast past the end"  # forecasts' fix by default


def forecasts(names: Sequence[str], histories: list[np.ndarray], horizon: int, season: int, fix: str = SHORTER
              ) -> dict[str, np.ndarray]:
    """Each model's `horizon`-step forecast from the end of every history (1-D, original units), refitted on
    each: {name: (n, horizon)}; NaN where a history has fewer than MIN_HISTORY values or a missing one (a window at
    a series' start, data.missing = "keep") or the model cannot fit it. More than MAX_FITS histories, or a frame
    of them too large for memory, are refused before any fit, with `fix`."""
    if len(histories) > MAX_FITS:
        raise DataError(f"{', '.join(names)} would be refitted at each of {len(histories)} windows (at most "
                        f"{MAX_FITS}); {fix}")
    values = sum(len(h) for h in histories)  # statsforecast's frame holds every history: a long series' many
    check_fits(f"fitting {', '.join(names)} on {len(histories)} windows' histories ({values} values)",  # windows
               values * FRAME_BYTES, fix)
    keys = [_digest(h) for h in histories]
    usable = [len(h) >= MIN_HISTORY and bool(np.isfinite(h).all()) for h in histories]
    out = {}
    for name in names:
        tag = (STATISTICAL[name], season, horizon)
        todo = [i for i, k in enumerate(keys) if usable[i] and (*tag, k) not in _cache]
        if todo:
            fresh = _fit(STATISTICAL[name], [histories[i] for i in todo], horizon, season)
            if len(_cache) + len(todo) > _CACHE_ENTRIES:
                _cache.clear()
            _cache.update({(*tag, keys[i]): f for i, f in zip(todo, fresh, strict=True)})
        nan = np.full(horizon, np.nan)
        out[name] = np.stack([_cache[(*tag, k)] if ok else nan for k, ok in zip(keys, usable, strict=True)]) \
            if keys else np.empty((0, horizon))
    return out


def _digest(history: np.ndarray) -> bytes:
    """A history's cache key: a digest, not the values, so the cache stays small whatever the histories' length."""
    return hashlib.blake2b(np.ascontiguousarray(history, dtype=float).tobytes(), digest_size=16).digest()


def remember(name: str, histories: list[np.ndarray], horizon: int, season: int, found: np.ndarray) -> None:
    """Forecasts of `name` made elsewhere (n, horizon), one per history, kept as if fitted here: a benchmark
    rescoring its saved run (bench/m3.py --rescore) so that tuner train --combine does not fit them again."""
    tag = (STATISTICAL[name], season, horizon)
    _cache.update({(*tag, _digest(h)): np.asarray(f, dtype=float) for h, f in zip(histories, found, strict=True)})


def _fit(model: str, histories: list[np.ndarray], horizon: int, season: int) -> list[np.ndarray]:
    """statsforecast's `model` fitted on each history, both cores at work, its forecasts in the histories' order."""
    import pandas as pd
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


def check_use(uses: dict[str, Sequence[str]], series: bool, targets: int) -> None:
    """Each use's models ({"--combine": names, ...}) can run here: statsforecast installed, and a time series with
    one target (not independent samples) to forecast from its own history."""
    for what, names in uses.items():
        if not names:
            continue
        require(what)
        if not series or targets != 1:
            raise ConfigError(f"{what} forecasts one target of a time series from its own history; this study has "
                              f"{'independent sequences' if not series else f'{targets} targets'}: leave {what} out")


def window_histories(windows: object, idx: np.ndarray) -> list[np.ndarray]:
    """The first target's original values before the first target of each window idx (one series' Windows or a
    panel's PanelWindows): what a statistical model forecasting from there is fitted on."""
    return key_histories(windows, windows.keys(idx))  # type: ignore[attr-defined]


def key_histories(windows: object, keys: np.ndarray) -> list[np.ndarray]:
    """The same for the windows named by keys (windows.KEY: series, row of the first target)."""
    parts = getattr(windows, "parts", None)
    if parts is None:
        return [windows.original[:row, 0] for row in keys["row"]]  # type: ignore[attr-defined]
    return [parts[s].original[:row, 0] for s, row in zip(keys["series"], keys["row"], strict=True)]


def as_baselines(names: Sequence[str], windows: object, idx: np.ndarray, horizon: int, season: int,
                 baselines: dict[str, np.ndarray], fix: str = SHORTER) -> dict[str, np.ndarray]:
    """The models' forecasts of windows idx by statsforecast's names, scored as baselines: where one cannot
    forecast a window (too short a history), the seasonal naive forecast of `baselines` (the split's, else
    persistence) is scored in its place, so every row of a table scores the same windows."""
    stand_in = baselines.get("seasonal naive", baselines.get("persistence"))
    found = forecasts(names, window_histories(windows, idx), horizon, season, fix)
    return {STATISTICAL[n]: f if stand_in is None else np.where(np.isfinite(f), f, stand_in) for n, f in found.items()}


__all__ = ["MAX_FITS", "MIN_HISTORY", "STATISTICAL", "as_baselines", "check_use", "forecasts", "key_histories",
           "remember", "require", "window_histories"]
