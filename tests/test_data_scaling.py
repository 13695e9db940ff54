"""data/scaling.py: each series standardised by its own statistics, known before the cutoff."""

import numpy as np
from sklearn.preprocessing import StandardScaler

from tuner.data.scaling import SeriesScaler


def test_one_series_is_scaled_as_standard_scaler_does_and_inverted_exactly(rng):
    values = rng.normal(40, 7, size=(30, 5, 2))
    scaler = SeriesScaler.fit(values)
    reference = StandardScaler().fit(values.reshape(-1, 2))
    every = np.zeros(30, dtype=int)
    flat = values.reshape(-1, 2)
    np.testing.assert_allclose(scaler.transform(values, every).reshape(-1, 2), reference.transform(flat))
    np.testing.assert_allclose(scaler.inverse(scaler.transform(values, every), every), values, rtol=1e-12)


def test_each_series_uses_only_its_rows_before_its_cutoff(rng):
    a = np.concatenate([rng.normal(0, 1, (50, 1)), np.full((50, 1), 1e6)])  # what lies past the cutoff is huge
    b = rng.normal(500, 20, (30, 1))
    scaler = SeriesScaler.from_rows([a, b], np.array([50, 30]))
    np.testing.assert_allclose(scaler.mean[:, 0], [a[:50].mean(), b.mean()])
    np.testing.assert_allclose(scaler.scale[:, 0], [a[:50].std(), b.std()])
    rows = np.array([0, 1, 1])
    scaled = scaler.transform(np.array([[a[0, 0]], [b[0, 0]], [np.nan]]), rows)
    np.testing.assert_allclose(scaled[:2, 0], [(a[0, 0] - a[:50].mean()) / a[:50].std(),
                                               (b[0, 0] - b.mean()) / b.std()])
    assert scaled[2, 0] == 0  # a padded step before its series began: the series' mean


def test_a_series_with_nothing_known_or_constant_scales_by_one_and_relative_columns_are_not_centred():
    known = np.array([[1.0, 5.0], [4.0, 5.0]])
    scaler = SeriesScaler.from_rows([known, np.full((4, 2), 9.0)], np.array([2, 0]), relative=1)
    np.testing.assert_array_equal(scaler.mean, [[0.0, 5.0], [0.0, 0.0]])  # column 0 relative; series 2 unknown
    np.testing.assert_array_equal(scaler.scale, [[1.5, 1.0], [1.0, 1.0]])  # only scaled; constant; unknown
