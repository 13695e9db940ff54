"""The number a forecaster needs: the whole test split forecast from its origin. A model that forecasts fewer
steps than the test split holds is scored on its rolling windows (each from real data); here it forecasts every
test value from the data before the test split alone, feeding its forecasts back (forecast/ahead.py), each
series from its own origin, beside the seasonal naive forecast from the same origin."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..data.metrics import scores
from ..data.prepare import Prepared
from ..data.windows import Windows
from ..forecast.ahead import forecast_ahead
from ..forecast.artifact import Forecaster


def origin_scores(forecasters: list[Forecaster], prepared: Prepared, targets: list[str], season: int
                  ) -> dict[str, Any] | None:
    """Scores of the forecasters' mean forecast of every series' test split from its origin (fed back), and of
    the seasonal naive forecast from there (the last value without a season). None where it cannot be made (the
    test split is one horizon, already from its origin; feature columns, whose future is unknown; samples)."""
    if prepared.windows is None or prepared.mase_scale is None or prepared.input_size != len(targets):
        return None
    parts, starts, ends = _origins(prepared)
    steps = max(e - s for s, e in zip(starts, ends, strict=True))
    if steps <= forecasters[0].spec.data.horizon:
        return None
    frames = {str(k): pd.DataFrame(p.original[:s], index=p.times[:s], columns=targets)
              for k, p, s in zip(prepared.ids or [""], parts, starts, strict=True)}
    ahead = forecast_ahead(forecasters, frames if prepared.panel is not None else frames[""], targets, steps,
                           paths=0)
    nt = len(targets)
    forecast = ahead["predicted"].to_numpy(dtype=float).reshape(len(parts), steps, nt)
    known = np.arange(steps)[None, :] < (np.array(ends) - np.array(starts))[:, None]  # (S, steps): in the data
    actual = np.stack([np.pad(p.original[s:e], ((0, steps - (e - s)), (0, 0)), constant_values=np.nan)
                       for p, s, e in zip(parts, starts, ends, strict=True)])
    naive = np.stack([_naive(p.original[:s], steps, season) for p, s in zip(parts, starts, strict=True)])
    scale = np.broadcast_to(prepared.mase_scale[:, None, :], forecast.shape)
    ours, theirs = (scores(f[known], actual[known], scale[known]) for f in (forecast, naive))
    return {"steps": steps, "model": ours, "seasonal naive" if season else "persistence": theirs}


def _origins(prepared: Prepared) -> tuple[list[Windows], list[int], list[int]]:
    """Each series' windows, the row its test split starts at, and its length."""
    w = prepared.windows
    parts = prepared.panel.parts if prepared.panel is not None else [w] if isinstance(w, Windows) else []
    starts = [int(s) for s in prepared.split_rows] if prepared.split_rows is not None else \
        [int(p.t_last[prepared.test_idx].min()) + 1 for p in parts]
    return parts, starts, [len(p.original) for p in parts]


def origin_histories(prepared: Prepared) -> tuple[list[np.ndarray], int]:
    """Each series' first target before its test split, and the steps from there to the longest one's end: what
    the statistical partners forecast from the test split's origin (origin_scores)."""
    parts, starts, ends = _origins(prepared)
    steps = max((e - s for s, e in zip(starts, ends, strict=True)), default=0)
    return [p.original[:s, 0] for p, s in zip(parts, starts, strict=True)], steps


def _naive(history: np.ndarray, steps: int, season: int) -> np.ndarray:
    """The last season repeated (the last value without a season): (steps, targets)."""
    m = season if season and len(history) >= season else 1
    return history[-m:][np.arange(steps) % m]


def origin_line(origin: dict[str, Any]) -> str:
    """The table's line for origin_scores."""
    model, (name, naive) = origin["model"], [(k, v) for k, v in origin.items() if k not in ("steps", "model")][0]
    return (f"from the test split's origin, {origin['steps']} steps fed back: sMAPE {model['smape']:.4g}, MASE "
            f"{model['mase']:.4g}, RMSE {model['rmse']:.5g} ({name} from the same origin: sMAPE "
            f"{naive['smape']:.4g}, MASE {naive['mase']:.4g}, RMSE {naive['rmse']:.5g})")
