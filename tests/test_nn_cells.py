"""nn/cells: the cells' forward passes at their limits."""

import numpy as np
import pytest

from tuner.nn import CELLS, SequenceModel


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_saturated_gates_give_the_exact_limits_not_nans(cell, dtype):
    """Gates are computed through exp of pre-scaled weights: an exp that overflows must still give sigmoid 0
    or 1 and tanh -1 or 1, in both the np.exp path (large batches) and the small-array path."""
    for batch in (4, 128):  # 128 x 32 units takes the exp path in float32 too
        model = SequenceModel(cell, 1, 32, 32, seed=0, dtype=dtype)
        for k in model.params:
            if k[0] in "WUb":
                model.params[k] *= 1e4  # pre-activations far beyond exp's range in either dtype
        model.params["V"][...] = np.eye(32)  # an identity head: every-step predictions are the hidden states
        model.params["c"][...] = 0
        x = np.random.default_rng(0).standard_normal((batch, 6, 1)) * 10
        with np.errstate(over="ignore", invalid="raise", divide="raise"):  # inf is fine, a NaN is not
            h = model.predict(x, every_step=True).transpose(1, 2, 0)  # (T, H, B)
            loss, grads = model.loss_and_grads(x, np.zeros((batch, 32)))
        assert np.isfinite(h).all() and np.abs(h).max() <= 1
        if cell == "rnn" and dtype == "float64":  # against np.tanh itself (float32 cancellation aside)
            p = {k: v.astype(np.float64) for k, v in model.params.items()}
            ref = np.zeros((32, batch))
            for t in range(6):
                ref = np.tanh(p["U0"] @ ref + p["W0"] @ x[:, t, :].T + p["b0"][:, None])
                np.testing.assert_allclose(h[t], ref, atol=1e-12)
        assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads.values())
