"""data/synthetic.py: the generated tasks are what they claim, from the generator they are given."""

import numpy as np
import pytest

from tuner.data.synthetic import adding_problem, noisy_sines
from tuner.errors import DataError


def test_the_adding_problem_marks_one_value_in_each_half_and_its_target_is_their_sum():
    x, y = adding_problem(500, 10, np.random.default_rng(0))
    marks = x[:, :, 1]
    assert (marks.sum(axis=1) == 2).all() and (marks[:, :5].sum(axis=1) == 1).all()
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * marks).sum(axis=1))
    assert abs(np.mean((y - 1) ** 2) - 1 / 6) < 0.03  # predicting 1 scores about 1/6, as its docstring says
    with pytest.raises(DataError, match=r"the adding problem needs data.length >= 2, got length=1"):
        adding_problem(5, 1, np.random.default_rng(0))


def test_the_same_generator_state_gives_the_same_series_and_the_noise_is_its_size():
    a, b = noisy_sines(400, np.random.default_rng(3)), noisy_sines(400, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    clean = noisy_sines(400, np.random.default_rng(3), noise=0.0)
    assert abs(np.std(a - clean) - 0.1) < 0.01
