"""forecast/frames.py: the one output layout of every forecast tuner writes."""

import numpy as np
import pandas as pd

from tuner.forecast.frames import actual_of, forecast_frame


def test_one_target_one_step_is_a_row_per_window_keyed_by_its_time():
    times = np.array([["2001-01"], ["2001-02"]], dtype=object)
    frame = forecast_frame(times, np.array([[1.0], [2.0]]), ["y"], actual=np.array([[1.5], [2.5]]),
                           width=np.array([0.5]))
    assert list(frame.columns) == ["time", "actual", "predicted", "lower", "upper"]
    assert frame["time"].tolist() == ["2001-01", "2001-02"]
    np.testing.assert_array_equal(frame[["lower", "upper"]].to_numpy(), [[0.5, 1.5], [1.5, 2.5]])


def test_several_steps_and_targets_are_consecutive_rows_horizon_major():
    """Columns of a window's forecast are (step 1: a, b), (step 2: a, b): one row each, in that order."""
    times = np.array([[10, 11], [11, 12]])
    forecast = np.array([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])
    frame = forecast_frame(times, forecast, ["a", "b"])
    assert list(frame.columns) == ["time", "step", "target", "predicted"]
    assert frame["time"].tolist() == [10, 10, 11, 11, 11, 11, 12, 12]
    assert frame["step"].tolist() == [1, 1, 2, 2, 1, 1, 2, 2]
    assert frame["target"].tolist() == ["a", "b"] * 4
    assert frame["predicted"].tolist() == list(range(1, 9))
    assert list(forecast_frame(times[:, :1], forecast[:, :1], ["a"], steps=True).columns)[:3] == ["time", "step",
                                                                                                 "target"]


def test_actual_of_reads_each_rows_value_from_the_data_and_nan_past_its_end():
    data = pd.DataFrame({"y": [1.0, 2.0, 3.0]}, index=pd.Index([2000, 2001, 2002], name="year"))
    out = forecast_frame(np.array([[2001], [2002], [2003]]), np.zeros((3, 1)), ["y"])
    np.testing.assert_array_equal(actual_of(out, data, ["y"]).ravel(), [2.0, 3.0, np.nan])
