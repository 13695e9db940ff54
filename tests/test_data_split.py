"""data/split.py: the Scaling a trained model keeps, saved as JSON and read back only when whole."""

import json

import numpy as np
import pytest

from tuner.data.split import Scaling
from tuner.errors import DataError


def panel_scaling() -> Scaling:
    return Scaling(np.array([[1.0, 2.0], [10.0, 20.0]]), np.array([[1.0, 1.0], [2.0, 4.0]]),
                   np.array([[1.0], [10.0]]), np.array([[1.0], [2.0]]), ("a", "b"))


def test_a_scaling_survives_json_and_scales_each_series_by_its_own_row():
    one = Scaling(np.array([5.0]), np.array([2.0]), np.array([5.0, 5.0]), np.array([2.0, 2.0]))
    for scaling in (one, panel_scaling()):
        back = Scaling.from_dict(json.loads(json.dumps(scaling.to_dict())))
        assert back.ids == scaling.ids
        for name in ("x_mean", "x_scale", "y_mean", "y_scale"):
            np.testing.assert_array_equal(getattr(back, name), getattr(scaling, name))
    x = np.full((2, 3, 2), 12.0)  # one window of each series
    np.testing.assert_allclose(panel_scaling().x(x, np.array([0, 1]))[:, 0], [[11.0, 10.0], [1.0, -2.0]])
    np.testing.assert_allclose(panel_scaling().y_original(np.array([[1.0], [1.0]]), np.array([0, 1])), [[2.0], [12.0]])
    with pytest.raises(ValueError, match="a panel's scaling needs each window's series"):
        panel_scaling().x(x)


@pytest.mark.parametrize("damage", [
    lambda d: d.pop("y_scale"),
    lambda d: d.update(x_mean=[["1", "x"], [1, 2]]),
    lambda d: d.update(x_scale=[[float("nan"), 1.0], [1.0, 1.0]]),
    lambda d: d.update(ids=["a"]),  # two rows of statistics, one id
    lambda d: d.update(ids=[1, 2]),
])
def test_a_damaged_scaling_is_one_error_naming_the_file(damage):
    d = panel_scaling().to_dict()
    damage(d)
    with pytest.raises(DataError, match=r"^model.json: the scaling is damaged; retrain with tuner train$"):
        Scaling.from_dict(d, "model.json")
