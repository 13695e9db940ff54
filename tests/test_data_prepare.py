"""data/prepare.py: a study's data from spec to windows, folds and test split."""

import numpy as np
import pytest
from conftest import frame, prepared, write_csv

from tuner.config.spec import CVSpec, DataSpec
from tuner.data.prepare import Prepared, prepare
from tuner.data.windows import make_windows
from tuner.errors import DataError


def test_zhang_split_has_221_training_and_67_test_years():
    p = prepare(DataSpec(dataset="sunspots", start=1700, end=1987, test_size=67, window=9), CVSpec(folds=3))
    assert list(p.time[p.test_idx]) == list(range(1921, 1988))
    assert p.time[p.train_idx[0]] == 1709 and p.time[p.train_idx[-1]] == 1920  # targets of 221 years, 9 as inputs
    assert len(p.train_idx) == 221 - 9


def test_test_split_is_the_last_rows_and_tuning_never_reaches_them(tmp_path):
    path = write_csv(tmp_path, "t,y\n" + "".join(f"{i},{i * i}\n" for i in range(40)))
    p = prepare(DataSpec(dataset="csv", path=str(path), target="y", time="t", window=4, horizon=2, test_size=8),
                CVSpec(folds=3))
    w = p.windows
    # test windows: first target in the last 8 rows (32..39); training windows: every target before row 32
    assert w.t_last[p.test_idx].min() + 1 == 32 and w.t_last[p.test_idx].max() + 2 == 39
    assert (w.t_last[p.train_idx] + 2 < 32).all() and w.t_last[p.train_idx].max() + 2 == 31
    assert set(p.train_idx).isdisjoint(p.test_idx)


def test_same_seed_same_folds_and_synthetic_data():
    spec = DataSpec(dataset="adding", n_points=200, length=8, seed=5)
    p1, p2 = prepare(spec, CVSpec(folds=3), seed=1), prepare(spec, CVSpec(folds=3), seed=1)
    np.testing.assert_array_equal(p1.x, p2.x)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(p1.folds, p2.folds, strict=True))


@pytest.mark.parametrize(
    "settings",
    [{}, {"log": True}, {"difference": 1}, {"normalise": "last"}, {"log": True, "difference": 1},
     {"difference": 1, "seasonal_difference": 12, "log": True, "normalise": "last"}],
)
@pytest.mark.parametrize("horizon", [1, 3])
def test_transforms_invert_exactly(settings, horizon):
    p = prepare(DataSpec(dataset="airline", window=14, horizon=horizon, **settings), CVSpec(folds=2))
    for split in (p.fold(1), p.test()):  # the true targets in model units map back to the original ones
        np.testing.assert_allclose(split.to_original(split.y_eval), split.y_eval_orig, rtol=1e-9)


def test_log_of_non_positive_values(tmp_path):
    path = write_csv(tmp_path, "v\n" + "".join(f"{i}\n" for i in range(-5, 60)))
    with pytest.raises(DataError, match=r"log = true needs positive values, but v is -5 in row 1"):
        prepare(DataSpec(dataset="csv", path=str(path), target="v", log=True, window=3), CVSpec(folds=2))


def test_features_become_extra_input_channels(tmp_path):
    rows = "".join(f"{i},{np.sin(i)},{i % 7}\n" for i in range(80))
    path = write_csv(tmp_path, "t,y,dow\n" + rows)
    p = prepare(DataSpec(dataset="csv", path=str(path), target="y", features=("dow",), time="t", window=5),
                CVSpec(folds=2))
    assert p.input_size == 2 and p.output_size == 1
    np.testing.assert_array_equal(p.x[0, :, 1], [0, 1, 2, 3, 4])


def test_series_too_short_says_how_many_rows_it_needs(tmp_path):
    path = write_csv(tmp_path, "v\n" + "".join(f"{i}\n" for i in range(20)))
    spec = DataSpec(dataset="csv", path=str(path), target="v", window=12, test_size=2)
    with pytest.raises(DataError, match=r"the series has 20 rows, too short for window=12, horizon=1, 5 folds \(a gap "
                                        r"of 12 windows\) and a test split of 2 rows: it needs at least \d+; lower"):
        prepare(spec, CVSpec(folds=5))


@pytest.mark.parametrize("settings", [
    {"window": 24, "test_size": 18, "seasonal_difference": 12, "difference": 1},  # the M3 case
    {"window": 12, "test_size": 0, "test_fraction": 0.2},  # the test split grows with the rows
    {"window": 6, "test_size": 5, "horizon": 3, "stride": 2},
    {"window": 8, "test_size": 0, "test_fraction": 0.3, "normalise": "last", "horizon": 2},
])
@pytest.mark.parametrize("folds", [2, 3, 5])
def test_the_length_a_short_series_is_told_it_needs_is_exactly_enough(tmp_path, settings, folds):
    """The hint comes from the same counts as the check: with the rows it names, the series prepares (no fold
    error from scikit-learn), and with one row fewer it is refused with the same hint."""
    import re

    def attempt(rows: int) -> Prepared:
        path = write_csv(tmp_path, "v\n" + "".join(f"{np.sin(i / 3) + i / 50 + 2}\n" for i in range(rows)))
        return prepare(DataSpec(dataset="csv", path=str(path), target="v", **settings), CVSpec(folds=folds))

    with pytest.raises(DataError) as err:
        attempt(10)
    needed = int(re.search(r"it needs at least (\d+)", str(err.value)).group(1))
    assert len(attempt(needed).folds) == folds
    with pytest.raises(DataError, match=rf"it needs at least {needed};"):
        attempt(needed - 1)


def test_scalers_see_only_the_training_part():
    # a series whose validation and test values are far larger than its training values
    series = np.concatenate([np.random.default_rng(0).normal(0, 1, 200), np.full(100, 1000.0)])
    w = make_windows(frame(series), ("y",), window=5, horizon=1)
    p = prepared(w)
    train, evaluate = np.arange(0, 150), np.arange(200, 290)
    split = p.split(train, evaluate)
    assert abs(split.x_train.mean()) < 1e-9 and abs(split.x_train.std() - 1) < 1e-9
    assert split.x_eval.mean() > 100  # the validation rows were not used to fit the scaler
    np.testing.assert_allclose(split.scaling().x_mean, w.x[train].mean())
