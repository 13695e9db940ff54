"""Mean squared error over batch, steps and outputs, and its gradient; and the same per model of a stack,
over each model's real samples only."""

from collections.abc import Callable
from typing import Any

import numpy as np

LossFn = Callable[[np.ndarray, np.ndarray], tuple[Any, np.ndarray]]


def mse(pred: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Return (loss, dloss/dpred) for loss = mean((pred - target)**2)."""
    diff = pred - target
    loss = float(np.vdot(diff, diff)) / diff.size
    return loss, diff * (2.0 / diff.size)


def masked_mse(pred: np.ndarray, target: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per model k of a stack: (loss_k, dloss_k/dpred) for loss_k = mean((pred_k - target_k)**2) over its real
    columns. pred and target are (K, O, C); weights (K, 1, C) is 1 / (O * real columns of k) on real columns and
    0 on padding, so a padded column adds nothing to the loss or the gradient."""
    diff = np.where(weights > 0, pred - target, 0)  # padding is 0 even where its forward pass overflowed
    scaled = diff * weights
    return np.einsum("koc,koc->k", scaled, diff), scaled * 2.0
