"""A global model forecasting a panel: every window of every series it was trained on, each series through its
own scaling (the rows of the saved Scaling, by series id), in the one output layout with a series column."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..data.panel import PanelWindows, panel_windows
from ..data.times import future_times
from ..data.windows import lookback
from ..errors import DataError
from .frames import forecast_frame
from .parts import mix

if TYPE_CHECKING:
    from .artifact import Forecaster, Partner


def known_series(forecaster: Forecaster, frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The series the model was trained on (each is scaled by its own saved statistics); the others are left
    out, said once."""
    ids = set(forecaster.scaling.ids)
    kept = {k: f for k, f in frames.items() if k in ids}
    unknown = [k for k in frames if k not in ids]
    if not kept:
        raise DataError(f"none of the data's {len(frames)} series (first: {unknown[0]!r}) is one the model was "
                        f"trained on; a global model scales each series by its own training statistics: train on "
                        f"a file that holds them")
    if unknown:
        print(f"note: left out {len(unknown)} series the model was not trained on (first: {unknown[0]!r}); retrain "
              f"on a file that holds them to forecast them", file=sys.stderr)
    return kept


def scaling_rows(forecaster: Forecaster | Partner, ids: list[str]) -> np.ndarray:
    """Each id's row in the saved scaling."""
    at = {k: i for i, k in enumerate(forecaster.scaling.ids)}
    return np.array([at[k] for k in ids], dtype=int)


def _windows(model: Forecaster | Partner, frames: dict[str, pd.DataFrame], targets: list[str]) -> PanelWindows:
    """Every window of every series, the one after its last row too (its `horizon` future rows unknown, at the
    series' own step)."""
    d = model.spec.data
    padded, need = {}, lookback(d) - d.window + 1  # windows start before a short series does (padded)
    for key, frame in frames.items():
        if len(frame) < need:
            raise DataError(f"series {key!r} has {len(frame)} rows; forecasting needs at least {need} (one, and "
                            f"any differencing lags)")
        future = pd.DataFrame(np.nan, index=future_times(frame.index, d.horizon), columns=frame.columns)
        padded[key] = pd.concat([frame, future])
    return panel_windows(padded, targets, d)


def _forecast(model: Forecaster | Partner, frames: dict[str, pd.DataFrame], targets: list[str]
              ) -> tuple[np.ndarray, np.ndarray, PanelWindows]:
    """One part's forecast of every window (original units), the windows' keys and the windows."""
    w = _windows(model, frames, targets)
    every = np.arange(len(w.x))
    rows = scaling_rows(model, w.ids)[w.series]
    return w.to_original(model.predict_scaled_windows(w.x, rows), every), w.keys(every), w


Layout = tuple[PanelWindows, np.ndarray]  # the windows, and which of them a forecast's rows are


def panel_windows_forecast(forecaster: Forecaster, frames: dict[str, pd.DataFrame], targets: list[str]
                           ) -> tuple[np.ndarray, np.ndarray, Layout]:
    """Every window of every series forecast: the parts' weighted sum on the windows all of them forecast, with
    the statistical partners (each refitted on its series' rows before the window); the keys, and the layout."""
    forecast, idx, w = mix(forecaster.parts, lambda part: _forecast(part, frames, targets))
    keys = w.keys(idx)
    if forecaster.combine:
        values = {k: f[targets[0]].to_numpy(dtype=float) for k, f in frames.items()}
        forecast = forecaster.with_partners(forecast, [values[k][:r] for k, r in zip(w.id_of(idx), keys["row"],
                                                                                     strict=True)])
    return forecast, keys, (w, idx)


def panel_frame(forecast: np.ndarray, layout: Layout, targets: list[str]) -> pd.DataFrame:
    """The forecasts of a layout's windows in the one output layout, with a series column."""
    w, idx = layout
    return forecast_frame(w.row_times(idx, forecast.shape[1] // len(targets)), forecast, targets,
                          series=w.id_of(idx))


def panel_forecast(forecaster: Forecaster, frames: dict[str, pd.DataFrame], targets: list[str]) -> pd.DataFrame:
    """panel_windows_forecast in the one output layout (forecast_frame with a series column)."""
    forecast, _, layout = panel_windows_forecast(forecaster, frames, targets)
    return panel_frame(forecast, layout, targets)


def last_rows(frames: dict[str, pd.DataFrame], targets: list[str], need: int, pad: bool = False) -> np.ndarray:
    """Each series' last `need` rows of its targets: (S, need, targets); with `pad` (a panel's windows), a
    shorter series' missing rows are NaN before its first (scaled to its mean)."""
    short = [k for k, f in frames.items() if len(f) < need]
    if short and not pad:
        raise DataError(f"series {short[0]!r} has {len(frames[short[0]])} rows; forecasting needs at least {need} "
                        f"(the window plus any differencing lags)")
    out = np.full((len(frames), need, len(targets)), np.nan)
    for s, f in enumerate(frames.values()):
        values = f[targets].to_numpy(dtype=float)[-need:]
        out[s, need - len(values):] = values
    return out


__all__ = ["Layout", "known_series", "last_rows", "panel_forecast", "panel_frame", "panel_windows_forecast",
           "scaling_rows"]
