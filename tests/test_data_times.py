"""data/times.py: a series' step and the times past its end."""

import pandas as pd
import pytest


@pytest.mark.parametrize("times, step", [
    (pd.date_range("2020-01-01", periods=40, freq="B").delete([7]), "B"),  # business days: weekends are no gap
    (pd.date_range("2020-01-01", periods=40, freq="30min").delete([7]), "30min"),
    (pd.date_range("2000-01-31", periods=40, freq="ME").delete([7]), "ME"),
    (pd.date_range("2000-01-01", periods=40, freq="QS").delete([7]), "QS"),
])
def test_the_series_step_survives_a_hole(times, step):
    from tuner.data.times import future_times, regular_index, series_step

    expected = pd.date_range(times[0], periods=41, freq=step)
    assert regular_index(times, series_step(times), 1000).equals(expected[:40])
    assert future_times(times, 1)[0] == expected[40]
