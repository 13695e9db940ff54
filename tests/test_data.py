import numpy as np
import pandas as pd
import pytest

from tuner import SequenceModel, fit, make_optimizer
from tuner.config.rules import from_table
from tuner.config.spec import CVSpec, DataSpec
from tuner.data.datasets import DATASETS, read_csv
from tuner.data.folds import make_folds
from tuner.data.prepare import Prepared, prepare
from tuner.data.windows import make_windows
from tuner.errors import DataError


def frame(values, name="y") -> pd.DataFrame:
    return pd.DataFrame({name: np.asarray(values, dtype=float)}, index=pd.RangeIndex(len(values), name="t"))


def prepared(w) -> Prepared:
    """A Prepared around hand-made windows, to call split() on chosen indices."""
    none = np.arange(0)
    return Prepared(w.x, w.y, w.y_orig, none, none, [], w, w.target_time)


def write_csv(tmp_path, text: str, name: str = "data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ---------------------------------------------------------------- shipped data


def test_sunspots_is_the_yearly_series_1700_2008():
    p = prepare(DataSpec(dataset="sunspots", test_size=10, window=3), CVSpec(folds=2))
    w = p.windows
    assert len(w.stages[0]) == 309 and w.target_time[0] == 1703 and w.target_time[-1] == 2008
    assert w.stages[0].max() == 190.2


def test_airline_passengers_sum_to_40363():
    df = DATASETS["airline"](DataSpec(dataset="airline"))
    assert len(df) == 144 and df["passengers"].sum() == 40363
    assert df.index[0] == pd.Timestamp("1949-01-01") and df.index[-1] == pd.Timestamp("1960-12-01")


def test_zhang_split_has_221_training_and_67_test_years():
    p = prepare(DataSpec(dataset="sunspots", start=1700, end=1987, test_size=67, window=9), CVSpec(folds=3))
    assert list(p.time[p.test_idx]) == list(range(1921, 1988))
    assert p.time[p.train_idx[0]] == 1709 and p.time[p.train_idx[-1]] == 1920  # targets of 221 years, 9 as inputs
    assert len(p.train_idx) == 221 - 9


# ---------------------------------------------------------------- windows, splits, folds


def test_windows_on_a_tiny_series_have_exact_indices():
    w = make_windows(frame(np.arange(10) * 10), ("y",), window=3, horizon=2)
    assert w.x.shape == (6, 3, 1) and w.y.shape == (6, 2)
    np.testing.assert_array_equal(w.x[0, :, 0], [0, 10, 20])
    np.testing.assert_array_equal(w.y[0], [30, 40])
    np.testing.assert_array_equal(w.x[-1, :, 0], [50, 60, 70])
    np.testing.assert_array_equal(w.y[-1], [80, 90])
    np.testing.assert_array_equal(w.t_last, [2, 3, 4, 5, 6, 7])
    np.testing.assert_array_equal(w.last_orig[:, 0], [20, 30, 40, 50, 60, 70])


def test_test_split_is_the_last_rows_and_tuning_never_reaches_them(tmp_path):
    path = write_csv(tmp_path, "t,y\n" + "".join(f"{i},{i * i}\n" for i in range(40)))
    p = prepare(DataSpec(dataset="csv", path=str(path), target="y", time="t", window=4, horizon=2, test_size=8),
                CVSpec(folds=3))
    w = p.windows
    # test windows: first target in the last 8 rows (32..39); training windows: every target before row 32
    assert w.t_last[p.test_idx].min() + 1 == 32 and w.t_last[p.test_idx].max() + 2 == 39
    assert (w.t_last[p.train_idx] + 2 < 32).all() and w.t_last[p.train_idx].max() + 2 == 31
    assert set(p.train_idx).isdisjoint(p.test_idx)


def test_time_series_folds_never_validate_on_the_past_and_never_overlap():
    spec = DataSpec(dataset="sine", n_points=300, window=10, horizon=3)
    p = prepare(spec, CVSpec(folds=4))
    w = p.windows
    for tr, va in p.folds:
        train, val = p.train_idx[tr], p.train_idx[va]
        assert w.t_last[train].max() < w.t_last[val].min()  # no validation index before a training index
        train_rows = {r for t in w.t_last[train] for r in range(t - 9, t + 4)}  # inputs and targets
        val_rows = {r for t in w.t_last[val] for r in range(t - 9, t + 4)}
        assert train_rows.isdisjoint(val_rows)  # no window straddles train and validation


def test_kfold_for_independent_sequences_is_seeded_and_covers_every_sample():
    a = make_folds(50, "kfold", 5, seed=3)
    b = make_folds(50, "kfold", 5, seed=3)
    c = make_folds(50, "kfold", 5, seed=4)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(a, c, strict=True))
    assert sorted(np.concatenate([va for _, va in a])) == list(range(50))


def test_same_seed_same_folds_and_synthetic_data():
    spec = DataSpec(dataset="adding", n_points=200, length=8, seed=5)
    p1, p2 = prepare(spec, CVSpec(folds=3), seed=1), prepare(spec, CVSpec(folds=3), seed=1)
    np.testing.assert_array_equal(p1.x, p2.x)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(p1.folds, p2.folds, strict=True))


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


# ---------------------------------------------------------------- baselines


def test_persistence_is_exact_on_a_constant_step_ramp():
    ramp = frame(5 + 2.0 * np.arange(60))
    w = make_windows(ramp, ("y",), window=4, horizon=1)
    b = prepared(w).split(np.arange(30), np.arange(40, 56)).baselines()
    assert b["persistence"]["mse"] == pytest.approx(4.0)  # off by exactly one step of 2
    assert b["ridge"]["mse"] < 1e-6  # a line is linear in its lags


def test_ridge_is_exact_on_a_linear_ar2_process():
    y = np.zeros(200)
    y[:2] = [1.0, 0.5]
    for t in range(2, 200):
        y[t] = 1.2 * y[t - 1] - 0.5 * y[t - 2] + 0.3
    w = make_windows(frame(y), ("y",), window=2, horizon=1)
    b = prepared(w).split(np.arange(150), np.arange(150, 198)).baselines()
    assert b["ridge"]["rmse"] < 1e-4 * np.std(y)
    assert b["mean"]["mse"] > b["ridge"]["mse"]


@pytest.mark.parametrize("horizon", [1, 3, 5])
def test_seasonal_naive_is_the_value_one_season_back_that_the_window_saw(horizon):
    """A season of 4 repeated exactly: seasonal naive is exact at every step ahead, also past one season
    (step 5 looks back two seasons); persistence is not."""
    series = np.tile([3.0, 7.0, 1.0, 9.0], 20) + np.repeat(np.arange(20) * 0.0, 4)
    w = make_windows(frame(series), ("y",), window=6, horizon=horizon)
    idx = np.arange(30, 40)
    np.testing.assert_array_equal(w.seasonal_naive(idx, 4, horizon), w.y_orig[idx])
    b = prepared(w).split(np.arange(30), idx).baselines(season=4)
    assert b["seasonal naive"]["mse"] == 0 and b["persistence"]["mse"] > 1
    assert "seasonal naive" not in prepared(w).split(np.arange(30), idx).baselines()  # no season, no baseline
    # the value used is one the window saw: row t_last + step - season * ceil(step / season)
    trend = make_windows(frame(np.arange(100.0)), ("y",), window=5, horizon=horizon)
    got = trend.seasonal_naive(np.array([50]), 4, horizon)[0]
    last = trend.t_last[50]
    assert list(got) == [last + s - 4 * -(-s // 4) for s in range(1, horizon + 1)]
    assert got.max() <= last


def test_rnn_beats_persistence_on_a_trending_series():
    # airline passengers: rising level, growing seasonal swing; differencing makes it learnable
    spec = DataSpec(dataset="airline", window=13, log=True, difference=1, seasonal_difference=12,
                    test_fraction=1 / 3)
    split = prepare(spec, CVSpec(folds=2)).test()
    model = SequenceModel("gru", 1, 16, 1, seed=0)
    fit(model, make_optimizer("adam", lr=0.01), split.x_train, split.y_train, epochs=60, batch_size=16, seed=0)
    rnn = split.score(model.predict(split.x_eval))
    persistence = split.baselines()["persistence"]
    assert rnn["rmse"] < 0.6 * persistence["rmse"], (rnn, persistence)


# ---------------------------------------------------------------- bad input: one DataError line each


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"data file .*nope.csv does not exist; check data.path"):
        read_csv(tmp_path / "nope.csv", "y")


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(DataError, match=r"is a directory; point it at a CSV file"):
        read_csv(tmp_path, "y")


def test_unknown_column_lists_the_columns(tmp_path):
    path = write_csv(tmp_path, "date,sales\n2020-01-01,3\n")
    with pytest.raises(DataError, match=r"column 'revenue' is not in .*; its columns are: date, sales"):
        read_csv(path, "revenue")
    with pytest.raises(DataError, match=r"column 'price' is not in"):
        read_csv(path, "sales", features=["price"])


def test_text_in_a_number_column_names_column_and_row(tmp_path):
    path = write_csv(tmp_path, "t,sales\n1,3\n2,4\n3,n/a?\n4,5\n")
    with pytest.raises(DataError, match=r"column 'sales' of .* has text 'n/a\?' in data row 3; make it a number"):
        read_csv(path, "sales", time="t")


def test_missing_values_with_missing_error(tmp_path, capsys):
    path = write_csv(tmp_path, "t,sales\n1,3\n2,\n3,5\n")
    with pytest.raises(DataError, match=r"has 1 missing value \(first in column 'sales', data row 2\); set "
                                        r"data.missing = \"interpolate\" or \"drop\""):
        read_csv(path, "sales", time="t")
    assert read_csv(path, "sales", time="t", missing="interpolate")["sales"].tolist() == [3, 4, 5]
    assert "filled 1 missing value by linear interpolation (first in column 'sales', data row 2" in \
        capsys.readouterr().err
    assert read_csv(path, "sales", time="t", missing="drop")["sales"].tolist() == [3, 5]
    assert "dropped 1 row with missing values" in capsys.readouterr().err
    read_csv(path, "sales", time="t", missing="drop")
    assert capsys.readouterr().err == ""  # said once per process: a searched window reads the file again


def test_time_column_is_parsed_and_sorted(tmp_path):
    path = write_csv(tmp_path, "day,v\n2020-01-03,3\n2020-01-01,1\n2020-01-02,2\n")
    df = read_csv(path, "v", time="day")
    assert df["v"].tolist() == [1, 2, 3] and isinstance(df.index, pd.DatetimeIndex)
    bad = write_csv(tmp_path, "day,v\n2020-01-03,3\nyesterday,1\n", "bad.csv")
    with pytest.raises(DataError, match=r"time column 'day' .* has 'yesterday' in data row 2, which is not a date"):
        read_csv(bad, "v", time="day")


def test_series_too_short_says_how_many_rows_it_needs(tmp_path):
    path = write_csv(tmp_path, "v\n" + "".join(f"{i}\n" for i in range(20)))
    spec = DataSpec(dataset="csv", path=str(path), target="v", window=12, test_size=2)
    with pytest.raises(DataError, match=r"the series has 20 rows, too short for window=12, horizon=1, 5 folds \(a gap "
                                        r"of 12 windows\) and a test split of 2 rows: it needs at least \d+; lower"):
        prepare(spec, CVSpec(folds=5))


def test_time_folds_accept_every_count_from_min_samples_on_as_scikit_learn_does():
    """min_samples is TimeSeriesSplit's own rule: from it on every count splits, one below does not."""
    from sklearn.model_selection import TimeSeriesSplit

    from tuner.data.folds import min_samples

    for folds in (2, 3, 5):
        for gap in (0, 1, 12, 24):
            need = min_samples("time", folds, gap)
            for n in range(need, need + 3 * (folds + 1) + 1):
                assert len(list(TimeSeriesSplit(n_splits=folds, gap=gap).split(np.arange(n)))) == folds
            if need > folds + 1:
                with pytest.raises(ValueError):
                    list(TimeSeriesSplit(n_splits=folds, gap=gap).split(np.arange(need - 1)))
            with pytest.raises(DataError, match=rf"too few for {folds} time-series folds.*at least {need}"):
                make_folds(need - 1, "time", folds, gap)


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


def test_unknown_dataset_lists_the_built_in_ones():
    with pytest.raises(DataError, match=r"data.dataset must be one of adding, airline, csv, sine, sunspots; "
                                        r"got dataset='sunspot'"):
        from_table(DataSpec, {"dataset": "sunspot"}, "data")


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


def test_ridge_on_a_single_window_warns_nothing_and_predicts_its_target():
    """Leave-one-out is undefined on one sample: RidgeCV would divide 0 by 0 and warn on every fold."""
    import warnings

    from tuner.data.baselines import ridge, ridge_fit

    x, y = np.arange(12.0).reshape(1, 12, 1), np.array([[5.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(ridge(x, y, x), [[5.0]], atol=1e-3)
        coef, intercept = ridge_fit(x.reshape(1, -1), y)
    assert coef.shape == (1, 12) and np.isfinite(coef).all() and np.isfinite(intercept).all()


def test_a_value_whose_square_overflows_is_refused_with_column_and_row(tmp_path):
    path = write_csv(tmp_path, "t,v\n" + "".join(f"{i},{1e300 if i == 7 else i}\n" for i in range(50)))
    with pytest.raises(DataError, match=r"column 'v' of .* has '1e\+300' in data row 8: its square overflows"):
        prepare(DataSpec(dataset="csv", path=str(path), target="v", time="t", window=4), CVSpec(folds=2))


def test_a_gap_in_the_time_column_is_refused_or_handled_as_missing_says(tmp_path, capsys):
    """Monthly data with an 11-month hole: refused with the gap's times in the data's own format; "interpolate"
    inserts and fills the months; "drop" keeps the rows and says windows span the gap. Either way the times past
    the end stay months."""
    from tuner.data.times import future_times

    months = pd.date_range("2000-01", periods=60, freq="MS").delete(range(20, 31))
    path = write_csv(tmp_path, "month,v\n" + "".join(f"{m:%Y-%m},{i % 12 + 1}\n" for i, m in enumerate(months)))
    with pytest.raises(DataError, match=r"time column 'month' of .* skips 11 times at its step \(the first gap: "
                                        r"from 2001-08 to 2002-08\); set data.missing"):
        read_csv(path, "v", time="month")
    filled = read_csv(path, "v", time="month", missing="interpolate")
    assert len(filled) == 60 and filled.index.equals(pd.date_range("2000-01", periods=60, freq="MS"))
    kept = read_csv(path, "v", time="month", missing="drop")
    assert len(kept) == 49 and "windows span the gap" in capsys.readouterr().err
    assert list(future_times(kept.index, 2).strftime("%Y-%m-%d")) == ["2005-01-01", "2005-02-01"]


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


def test_a_long_table_of_several_series_is_not_read_as_one(tmp_path):
    """time = "" on (unique_id, ds, y): in file order the series would run together; the repeated times in the
    column tuner does not read say it is several series."""
    rows = "".join(f"{s},{2000 + i // 12}-{i % 12 + 1:02d},{i}\n" for s in "ab" for i in range(30))
    path = write_csv(tmp_path, "unique_id,ds,y\n" + rows)
    with pytest.raises(DataError, match=r"column 'ds' of .* holds times that repeat \('2000-01' again in data row "
                                        r"31\): a table of several series"):
        read_csv(path, "y")
    one = write_csv(tmp_path, "unique_id,ds,y\n" + rows[: rows.index("b,")], "one.csv")
    assert len(read_csv(one, "y")) == 30  # one series with an unread time column is fine


def test_a_registered_dataset_is_all_it_takes(monkeypatch):
    """A dataset is one Dataset entry: the spec accepts its name and its keys, prepare windows it, and an
    exported config carries exactly the keys it reads; no module tests a dataset by name."""
    from tuner.data.datasets import SERIES_KEYS, Dataset

    def ramp(spec):
        return pd.DataFrame({"ramp": np.arange(120.0) % 17}, index=pd.RangeIndex(120, name="t"))

    monkeypatch.setitem(DATASETS, "ramp", Dataset(ramp, SERIES_KEYS))
    spec = from_table(DataSpec, {"dataset": "ramp", "window": 6}, "data")
    assert spec.keys_that_apply() == set(SERIES_KEYS)
    prepared = prepare(spec, CVSpec(folds=2))
    assert prepared.x.shape[1:] == (6, 1) and len(prepared.folds) == 2
    with pytest.raises(Exception, match="reads no file, but path is set"):
        DataSpec(dataset="ramp", path="x.csv")
