"""Mean squared error over batch, steps and outputs, and its gradient."""

import numpy as np


def mse(pred: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Return (loss, dloss/dpred) for loss = mean((pred - target)**2)."""
    diff = pred - target
    loss = float(np.vdot(diff, diff)) / diff.size
    return loss, diff * (2.0 / diff.size)
