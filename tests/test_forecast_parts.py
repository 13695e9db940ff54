"""forecast/parts.py: a blend and an ensemble as weighted sums of their parts' forecasts."""

import numpy as np

from tuner.forecast.parts import keyed_rows, mean, mix


def test_mix_sums_the_weighted_parts_on_the_windows_all_of_them_forecast_in_the_first_parts_order():
    first = (np.array([[1.0], [2.0], [3.0], [4.0]]), np.array([30, 10, 20, 40]), "first")
    second = (np.array([[10.0], [20.0], [30.0]]), np.array([10, 20, 30]), "second")  # starts later, ends earlier
    forecast, idx, layout = mix([(0.75, "a"), (0.25, "b")], {"a": first, "b": second}.get)
    assert layout == "first" and idx.tolist() == [0, 1, 2]  # 30, 10, 20: the first part's order, 40 left out
    np.testing.assert_allclose(forecast[:, 0], [0.75 * 1 + 0.25 * 30, 0.75 * 2 + 0.25 * 10, 0.75 * 3 + 0.25 * 20])


def test_one_part_is_its_own_forecast_and_an_ensemble_is_the_plain_mean():
    rows = np.array([[5, 6], [6, 7]])
    forecast, keys, layout = keyed_rows(np.array([[1.0, 2.0], [3.0, 4.0]]), rows)
    assert keys.tolist() == [5, 6] and layout is rows
    alone, idx, _ = mix([(1.0, 0)], lambda _: (forecast, keys, layout))
    np.testing.assert_array_equal(alone, forecast)
    members = {0: forecast, 1: forecast + 3, 2: forecast - 6}
    averaged, idx, _ = mean([0, 1, 2], lambda m: (members[m], keys, None))
    np.testing.assert_array_equal(averaged, np.mean([members[m] for m in range(3)], axis=0))  # to the last digit
    assert idx.tolist() == [0, 1]


def test_panel_keys_match_on_series_and_row_together():
    from tuner.data.windows import window_keys

    a = window_keys(np.array([3, 4, 3]), np.array([0, 0, 1]))
    b = window_keys(np.array([4, 3]), np.array([1, 1]))  # series 1 only: row 3 is the same window, row 4 is not
    forecast, idx, _ = mix([(0.5, a), (0.5, b)], lambda k: (np.arange(len(k), dtype=float)[:, None] + 1, k, None))
    assert idx.tolist() == [2] and forecast[0, 0] == 0.5 * 3 + 0.5 * 2
