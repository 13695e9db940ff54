"""How forecasts are scored: MSE, RMSE and MAE in the series' units, and the scale-free sMAPE and MASE that
compare series of different sizes (as the M3 and M4 competitions score: sMAPE 200|F - A| / (|A| + |F|), MASE the
absolute error over the mean absolute seasonal-naive error of the series' own data before the forecasts)."""

from __future__ import annotations

import math

import numpy as np

METRICS = ("mse", "mase", "smape")  # what a study may minimise ([study] metric)


def smape_terms(pred: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """200 |F - A| / (|A| + |F|) per value, 0 where both are 0."""
    total = np.abs(actual) + np.abs(pred)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 200 * np.abs(pred - actual) / total, 0.0)


def scores(pred: np.ndarray, actual: np.ndarray, scale: np.ndarray | None = None) -> dict[str, float]:
    """MSE, RMSE and MAE of forecasts (n, columns); with `scale` (each value's MASE denominator, broadcast to
    pred's shape) sMAPE and MASE too."""
    err = pred - actual
    mse = float(np.mean(err**2))
    out = {"mse": mse, "rmse": math.sqrt(mse), "mae": float(np.mean(np.abs(err)))}
    if scale is not None:
        out["smape"] = float(np.mean(smape_terms(pred, actual)))
        out["mase"] = float(np.mean(np.abs(err) / scale))
    return out


def score_of(metric: str, pred: np.ndarray, actual: np.ndarray, scale: np.ndarray | None) -> float:
    """One metric of scores(), computed alone (early stopping asks for it every epoch)."""
    if metric == "mse":
        return float(np.mean((pred - actual) ** 2))
    if metric == "smape":
        return float(np.mean(smape_terms(pred, actual)))
    return float(np.mean(np.abs(pred - actual) / scale))
