"""forecast/intervals.py: split-conformal half-widths, the adaptive walk, ensembles' residuals, the saved form."""

import numpy as np
import pytest

from tuner.data.windows import window_keys
from tuner.errors import ConfigError
from tuner.forecast.intervals import Intervals, conformal_width, coverage_of, ensemble_residuals


def test_the_conformal_width_is_the_ceil_n_plus_1_times_coverage_th_smallest_residual():
    residuals = np.arange(1.0, 20.0)[:, None] * np.array([1.0, -2.0])  # 19 residuals, two columns
    # (19 + 1) * 0.9 = 18: the 18th smallest absolute residual of each column
    np.testing.assert_array_equal(conformal_width(residuals, 0.9), [18.0, 36.0])
    np.testing.assert_array_equal(conformal_width(residuals[:3], 0.9), [3.0, 6.0])  # too few: the largest


def test_a_conformal_width_covers_new_errors_from_the_same_distribution_as_promised():
    rng = np.random.default_rng(0)
    width = conformal_width(rng.normal(size=(2000, 1)), 0.9)
    fresh = rng.normal(size=(20000, 1))
    assert coverage_of(fresh, np.zeros_like(fresh), width) == pytest.approx(0.9, abs=0.01)


def test_the_walk_widens_after_misses_and_narrows_after_hits():
    residuals = np.linspace(-1, 1, 201)[:, None]
    iv = Intervals(0.9, residuals, gamma=0.1)
    steps = np.array([1])
    _, missed = iv.walk(np.zeros((10, 1)), np.full((10, 1), 5.0), steps)  # every error far outside
    _, hit = iv.walk(np.zeros((10, 1)), np.zeros((10, 1)), steps)  # every error inside
    assert missed.alpha[0] < 0.1 < hit.alpha[0]  # a lower miscoverage level: wider intervals next
    widths, _ = iv.walk(np.zeros((10, 1)), np.full((10, 1), 5.0), steps)
    assert np.all(np.diff(widths[:, 0]) >= 0) and widths[-1, 0] > widths[0, 0]


def test_an_unknown_actual_value_does_not_move_the_level():
    iv = Intervals(0.9, np.linspace(-1, 1, 101)[:, None])
    _, after = iv.walk(np.zeros((5, 1)), np.full((5, 1), np.nan), np.array([1]))
    assert after.alpha[0] == pytest.approx(0.1)


def test_ensemble_residuals_are_of_the_members_mean_on_the_windows_all_forecast():
    keys_a, keys_b = window_keys(np.array([3, 4, 5])), window_keys(np.array([4, 5, 6]))
    a = (keys_a, np.array([[1.0], [2.0], [3.0]]), np.array([[1.5], [2.5], [3.5]]))
    b = (keys_b, np.array([[4.0], [5.0], [6.0]]), np.array([[2.5], [3.5], [4.5]]))
    # rows 4 and 5: mean forecasts (2 + 4) / 2 = 3 and (3 + 5) / 2 = 4, actual 2.5 and 3.5
    np.testing.assert_allclose(ensemble_residuals([a, b]), [[-0.5], [-0.5]])
    far = (window_keys(np.array([9])), np.ones((1, 1)), np.ones((1, 1)))
    with pytest.raises(ConfigError, match="share no out-of-fold windows"):
        ensemble_residuals([a, far])


def test_saved_intervals_round_trip_and_a_tampered_file_is_refused():
    iv = Intervals(0.8, np.array([[0.5, -1.0], [1.5, 2.0]]), adapt_from="1990", level=np.array([0.2, 0.3]),
                   scale=np.array([[2.0], [4.0]]), ids=("a", "b"))
    back = Intervals.from_dict(iv.to_dict(), "intervals.json")
    np.testing.assert_array_equal(back.residuals, iv.residuals)
    assert (back.coverage, back.adapt_from, back.ids) == (0.8, "1990", ("a", "b"))
    np.testing.assert_array_equal(back.series_width(np.array(["b", "zz"]))[0], iv.width * 4.0)
    assert np.isnan(back.series_width(np.array(["zz"]))).all()  # a series it was not trained on
    for change in ({"coverage": 1.5}, {"residuals": [[float("nan"), 1.0]]}, {"level": [2.0, 0.1]},
                   {"scale": [[-1.0], [1.0]]}, {"format": "pickle"}):
        with pytest.raises(ConfigError, match=r"intervals.json is damaged; retrain with tuner train"):
            Intervals.from_dict({**iv.to_dict(), **change}, "intervals.json")
