"""nn/activations.py: each activation's derivative, computed from its output as backward needs it."""

import numpy as np

from tuner.nn import ACTIVATIONS


def test_activation_registry_derivatives_from_outputs(rng):
    a = rng.standard_normal(50) * 3
    for name, (f, df) in ACTIVATIONS.items():
        eps = 1e-6
        numeric = (f(a + eps) - f(a - eps)) / (2 * eps)
        np.testing.assert_allclose(df(f(a)), numeric, rtol=1e-6, atol=1e-8, err_msg=name)
        buf = a.copy()
        assert f(buf, out=buf) is buf and np.allclose(buf, f(a)), name  # in place works
