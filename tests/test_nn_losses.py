"""nn/losses.py: the MSE and its gradient, and a stack's per-model MSE over each model's real samples only."""

import numpy as np
import pytest

from tuner.nn.losses import masked_mse, mse


def test_mse_gradient_matches_central_differences(rng):
    pred, target = rng.normal(size=(4, 3, 2)), rng.normal(size=(4, 3, 2))
    loss, grad = mse(pred, target)
    assert loss == pytest.approx(np.mean((pred - target) ** 2), rel=1e-14)
    eps = 1e-6
    for index in [(0, 0, 0), (3, 2, 1), (1, 1, 0)]:
        up, down = pred.copy(), pred.copy()
        up[index] += eps
        down[index] -= eps
        assert abs((mse(up, target)[0] - mse(down, target)[0]) / (2 * eps) - grad[index]) < 1e-8


def test_each_model_of_a_stack_is_scored_on_its_real_columns_and_padding_adds_nothing(rng):
    pred, target = rng.normal(size=(2, 3, 5)), rng.normal(size=(2, 3, 5))
    real = [5, 3]  # model 1 has three real columns; its last two are padding
    pred[1, :, 3:] = np.inf  # an overflowed forward pass on padding must not reach the loss or the gradient
    weights = np.zeros((2, 1, 5))
    for k, n in enumerate(real):
        weights[k, :, :n] = 1 / (3 * n)
    losses, grad = masked_mse(pred, target, weights)
    for k, n in enumerate(real):
        alone, alone_grad = mse(pred[k, :, :n], target[k, :, :n])
        np.testing.assert_allclose(losses[k], alone, rtol=1e-12)
        np.testing.assert_allclose(grad[k, :, :n], alone_grad, rtol=1e-12)
    assert (grad[1, :, 3:] == 0).all()
