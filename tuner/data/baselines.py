"""The forecasts anyone would try first, scored on the same split as the RNN."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import Ridge, RidgeCV

ALPHAS = np.logspace(-6, 3, 19)


def _fit_ridge(x: np.ndarray, y: np.ndarray) -> Ridge | RidgeCV:
    """Ridge with its penalty chosen by leave-one-out; one sample leaves nothing out (RidgeCV would divide 0 by
    0, warn and pick a penalty at random), so it gets the strongest penalty: the sample's own mean."""
    if len(x) < 2:
        return Ridge(alpha=ALPHAS[-1]).fit(x, y)
    return RidgeCV(alphas=ALPHAS).fit(x, y)


def ridge(x_train: np.ndarray, y_train: np.ndarray, x_eval: np.ndarray) -> np.ndarray:
    """Ridge regression on the flattened lag window, its penalty chosen by leave-one-out on the training set."""
    model = _fit_ridge(x_train.reshape(len(x_train), -1), y_train)
    return model.predict(x_eval.reshape(len(x_eval), -1)).reshape(len(x_eval), -1)


def ridge_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression of y (n, outputs) on x (n, features): the coefficients (outputs, features) and the
    intercept (outputs,), the penalty chosen by leave-one-out."""
    model = _fit_ridge(x, y)
    return np.atleast_2d(model.coef_), np.atleast_1d(model.intercept_)


def persistence(last: np.ndarray, horizon: int) -> np.ndarray:
    """Tomorrow as today: the last observed value for every step ahead. last (n, n_targets)."""
    return np.tile(last, (1, horizon))


def mean(y_train: np.ndarray, n: int) -> np.ndarray:
    """The training mean of each target column."""
    return np.broadcast_to(y_train.mean(axis=0), (n, y_train.shape[1]))


def versus(ours: float, baselines: dict[str, float], metric: str) -> str:
    """One line: the best baseline, and by how much the model beats it or trails it (lower is better)."""
    name, value = min(baselines.items(), key=lambda item: item[1])
    if not value > 0:
        return f"best baseline: {name} ({metric} {value:.5g})"
    change = ours / value - 1
    how = "lower: the RNN is better" if change < 0 else "higher: the baseline is better"
    return f"best baseline: {name} ({metric} {value:.5g}); the RNN's {metric} is {abs(change):.1%} {how}"
