"""data/windows.py: windows and what each forecasts."""

import numpy as np
from conftest import frame

from tuner.data.windows import make_windows


def test_windows_on_a_tiny_series_have_exact_indices():
    w = make_windows(frame(np.arange(10) * 10), ("y",), window=3, horizon=2)
    assert w.x.shape == (6, 3, 1) and w.y.shape == (6, 2)
    np.testing.assert_array_equal(w.x[0, :, 0], [0, 10, 20])
    np.testing.assert_array_equal(w.y[0], [30, 40])
    np.testing.assert_array_equal(w.x[-1, :, 0], [50, 60, 70])
    np.testing.assert_array_equal(w.y[-1], [80, 90])
    np.testing.assert_array_equal(w.t_last, [2, 3, 4, 5, 6, 7])
    np.testing.assert_array_equal(w.last_orig[:, 0], [20, 30, 40, 50, 60, 70])
