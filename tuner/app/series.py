"""What `tuner train` says of each series of a panel: series.csv (each series' test scores), the few series
forecast.png draws, intervals at each series' scale; and the protocol every score is of, in words."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..data.metrics import smape_terms
from ..data.prepare import Prepared
from ..data.times import row_times
from ..data.windows import per_column
from ..forecast.intervals import Intervals

SERIES = "series.csv"


def protocol(d: Any, n_series: int = 0) -> str:
    """What a test score is of (d: a DataSpec): one step ahead from every window, or N steps from one origin
    when the test split is one window's horizon."""
    if d.horizon == 1:
        what = "one-step-ahead forecasts from every window of the test split (rolling origin)"
    elif d.test_size == d.horizon:
        what = f"one {d.horizon}-step forecast from the test split's origin"
    else:
        what = f"{d.horizon}-step forecasts from every window of the test split (rolling origin)"
    return what + (f", in each of {n_series} series" if n_series else "")


def residual_intervals(prepared: Prepared, coverage: float, oof: tuple[np.ndarray, np.ndarray, np.ndarray],
                       gamma: float) -> Intervals:
    """Intervals from the out-of-fold residuals: in original units for one series (adapting with gamma); for a
    panel each residual over its series' MASE denominator, pooled over series, at a fixed level."""
    keys, forecast, actual = oof
    residuals = actual - forecast
    if prepared.panel is None or prepared.mase_scale is None:
        return Intervals(coverage, residuals, gamma=gamma)
    scale = per_column(prepared.mase_scale, residuals.shape[1], keys["series"])
    return Intervals(coverage, residuals / scale, gamma=0.0, scale=prepared.mase_scale,
                     ids=prepared.ids)


def row_scale(predictions: pd.DataFrame, prepared: Prepared) -> np.ndarray:
    """Each row's MASE denominator (its series' and target's) for rows in the output layout (frames.py)."""
    assert prepared.mase_scale is not None
    n = len(predictions)
    column = predictions["target"].factorize(sort=False)[0] if "target" in predictions else np.zeros(n, dtype=int)
    if "series" not in predictions:
        return prepared.mase_scale[np.zeros(n, dtype=int), column]
    at = {k: i for i, k in enumerate(prepared.ids)}
    return prepared.mase_scale[predictions["series"].map(at).to_numpy(), column]


def series_scores(predictions: pd.DataFrame, prepared: Prepared, baselines: dict[str, np.ndarray] | None = None
                  ) -> pd.DataFrame:
    """Per series: its test values, RMSE, MAE, sMAPE and MASE (the denominator of its own data before the test
    split), and each baseline's sMAPE and MASE on the same values (`baselines`: their forecasts, rows as the
    predictions'), sorted by id."""
    out = _scores(predictions, prepared)
    for name, forecast in (baselines or {}).items():
        theirs = _scores(predictions.assign(predicted=forecast.ravel()), prepared)
        out[f"smape {name}"], out[f"mase {name}"] = theirs["smape"], theirs["mase"]
    return out


def _scores(predictions: pd.DataFrame, prepared: Prepared) -> pd.DataFrame:
    frame = predictions.assign(error=predictions["predicted"] - predictions["actual"])
    frame["smape"] = smape_terms(frame["predicted"].to_numpy(dtype=float), frame["actual"].to_numpy(dtype=float))
    frame["mase"] = frame["error"].abs() / row_scale(predictions, prepared)
    frame["squared"] = frame["error"] ** 2
    frame["absolute"] = frame["error"].abs()
    out = frame.groupby("series", sort=True).agg(values=("error", "size"), mse=("squared", "mean"),
                                                  mae=("absolute", "mean"), smape=("smape", "mean"),
                                                  mase=("mase", "mean")).reset_index()
    out.insert(2, "rmse", np.sqrt(out.pop("mse")))
    return out


def pick_series(per_series: pd.DataFrame) -> list[str]:
    """The best, the median and the worst series by MASE (fewer when there are fewer)."""
    ordered = per_series.sort_values("mase", kind="stable")["series"].astype(str).tolist()
    picks = [ordered[0], ordered[len(ordered) // 2], ordered[-1]]
    return list(dict.fromkeys(picks))


def series_history(prepared: Prepared, key: str, predictions: pd.DataFrame) -> tuple[str, pd.Series, pd.DataFrame]:
    """One series' data before its test split (indexed by time as written) and its test forecasts: every step of
    its first test window when the horizon is longer than one (the forecast from the origin), else every row."""
    assert prepared.panel is not None
    s = prepared.ids.index(key)
    part = prepared.panel.parts[s]
    first = prepared.test_idx[prepared.panel.series[prepared.test_idx] == s][0]
    split_at = int(prepared.panel.t_last[first]) + 1
    times = row_times(part.times, np.arange(split_at))
    history = pd.Series(part.original[:split_at, 0], index=times)
    test = predictions[predictions["series"].astype(str) == key]
    if "target" in test:
        test = test[test["target"] == test["target"].iloc[0]]
    if "step" in test:
        horizon = int(test["step"].max())
        test = test.iloc[:horizon] if horizon > 1 else test
    return key, history, test
