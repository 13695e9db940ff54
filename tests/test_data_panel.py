"""Many series in one study (data/panel.py, data/scaling.py, folds.panel_folds, data/metrics.py): a long table
read per series, windows that never cross series, per-series scaling, folds at the same cutoffs in every series,
scale-free metrics."""

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import TimeSeriesSplit

from tuner.config.spec import CVSpec, DataSpec, StudySpec
from tuner.data.folds import panel_folds
from tuner.data.metrics import scores, smape_terms
from tuner.data.panel import read_panel
from tuner.data.prepare import prepare
from tuner.errors import ConfigError, DataError


def long_table(lengths, seed=0, start="2000-01", ids=None, trend=0.0) -> pd.DataFrame:
    """A monthly panel: series k has lengths[k] rows, its own level and phase (and a trend of `trend` levels a
    year), starts shifted by k months."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, n in enumerate(lengths):
        level = 10.0 ** (1 + k % 3)
        t = np.arange(n)
        y = level * (2 + np.sin(2 * np.pi * t / 12 + k) + trend * t / 12) + rng.normal(0, 0.05 * level, n)
        months = pd.period_range(start, periods=n, freq="M") + k
        key = ids[k] if ids else f"s{k}"
        rows += [{"id": key, "month": str(m), "y": v} for m, v in zip(months, y, strict=True)]
    return pd.DataFrame(rows)


def write(tmp_path, table: pd.DataFrame, shuffle=True):
    path = tmp_path / "panel.csv"
    (table.sample(frac=1, random_state=0) if shuffle else table).to_csv(path, index=False)
    return path


def panel_spec(path, **kw) -> DataSpec:
    return DataSpec(dataset="csv", path=str(path), series="id", time="month", target="y",
                    **{"window": 12, "test_size": 6, "season": 12, **kw})


# ---------------------------------------------------------------- reading


def test_a_long_table_is_read_per_series_sorted_by_time_with_ids_as_text(tmp_path):
    path = write(tmp_path, long_table([30, 40], ids=["007", "12"]))
    frames = read_panel(path, "id", "y", time="month")
    assert list(frames) == ["007", "12"]  # ids stay text, sorted
    assert [len(f) for f in frames.values()] == [30, 40]
    assert all(f.index.is_monotonic_increasing for f in frames.values())


@pytest.mark.parametrize("edit, expected", [
    (lambda t: t.assign(id=t["id"].where(t.index != 5, "")), "has no series id in data row 6"),
    (lambda t: pd.concat([t, t.iloc[[3]]]), "(series 's0') repeats 2000-04"),
    (lambda t: t[t.index != 10], "(series 's0') skips 1 time at its step"),
])
def test_bad_rows_of_a_long_table_name_their_series(tmp_path, edit, expected):
    path = write(tmp_path, edit(long_table([30, 40])), shuffle=False)
    with pytest.raises(DataError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        read_panel(path, "id", "y", time="month")


def test_series_at_different_frequencies_are_refused(tmp_path):
    monthly = long_table([30])
    daily = pd.DataFrame({"id": "d", "month": pd.date_range("2000-01-01", periods=30).strftime("%Y-%m-%d"),
                          "y": 1.0})
    path = write(tmp_path, pd.concat([monthly, daily]))
    with pytest.raises(DataError, match="a study holds series of one frequency"):
        read_panel(path, "id", "y", time="month")


def test_gaps_are_filled_per_series_and_said_once(tmp_path, capsys):
    table = long_table([30, 40, 50])
    table = table[~table.index.isin([10, 45, 100])]  # one hole in each series
    frames = read_panel(write(tmp_path, table), "id", "y", time="month", missing="interpolate")
    assert [len(f) for f in frames.values()] == [30, 40, 50] and not any(f.isna().any().any() for f in frames.values())
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "and 2 more series handled likewise" in notes[0]


# ---------------------------------------------------------------- windows, split, folds


def test_windows_never_cross_series_and_undo_per_series(tmp_path):
    p = prepare(panel_spec(write(tmp_path, long_table([40, 60, 50])), log=True, seasonal_difference=12,
                           normalise="last"), CVSpec(folds=2, gap=0))
    w = p.windows
    assert np.bincount(w.series).tolist() == [40 - 13, 60 - 13, 50 - 13]  # a window ending at each row after the
    assert np.isnan(w.x[0, :11]).all() and not np.isnan(w.x[0, 11:]).any()  # 12 lags, padded before it starts
    every = np.arange(len(w.y))
    np.testing.assert_allclose(w.to_original(w.y, every), w.y_orig, rtol=1e-12)  # each row by its own series
    keys = p.test().keys
    assert len(np.unique(keys)) == len(keys) and set(keys["series"]) == {0, 1, 2}


def test_the_test_split_is_the_last_rows_of_every_series_and_folds_cut_at_the_same_place(tmp_path):
    p = prepare(panel_spec(write(tmp_path, long_table([40, 60, 50]))), CVSpec(folds=3, gap=0))
    w = p.windows
    test_series = w.series[p.test_idx]
    assert np.bincount(test_series).tolist() == [6, 6, 6]
    for s, n in enumerate([40, 60, 50]):  # the test split: the last 6 rows' targets of each series
        assert sorted(w.t_last[p.test_idx[test_series == s]] + 1) == list(range(n - 6, n))
    for train, val in p.folds:
        tr, va = p.train_idx[train], p.train_idx[val]
        assert np.bincount(w.series[va]).tolist() == [(40 - 6 - 1) // 4] * 3  # the shortest series' block in each
        for s in range(3):  # leak-free: every training target precedes the series' validation block
            last_target = (w.t_last[tr[w.series[tr] == s]] + 1).max()
            assert last_target < (w.t_last[va[w.series[va] == s]] + 1).min()
    rows_before_test = np.array([40, 60, 50]) - 6
    for s in range(3):  # the last fold validates right before the test split
        last_val = p.train_idx[p.folds[-1][1]]
        assert (w.t_last[last_val[w.series[last_val] == s]] + 1).max() == rows_before_test[s] - 1


def test_panel_folds_of_one_series_are_time_series_splits():
    for n, folds, gap in [(50, 3, 0), (97, 4, 5), (20, 2, 1)]:
        ours = panel_folds([n], folds, gap)
        theirs = list(TimeSeriesSplit(n_splits=folds, gap=gap).split(np.arange(n)))
        assert all(np.array_equal(a, c) and np.array_equal(b, d) for (a, b), (c, d) in zip(ours, theirs, strict=True))


def test_each_series_is_scaled_by_its_own_rows_before_the_cutoff(tmp_path):
    table = long_table([40, 60, 50])
    p = prepare(panel_spec(write(tmp_path, table)), CVSpec(folds=2, gap=0))
    w = p.windows
    for split, evaluated in [(p.fold(1), p.train_idx[p.folds[1][1]]), (p.test(), p.test_idx)]:
        scaling = split.scaling()
        assert scaling.x_mean.shape == (3, 1) and scaling.ids == ("s0", "s1", "s2")
        for s, key in enumerate(["s0", "s1", "s2"]):
            cutoff = (w.t_last[evaluated[w.series[evaluated] == s]] + 1).min()  # its first evaluated target's row
            known = table[table["id"] == key]["y"].to_numpy()[:cutoff]  # only what a forecast from there knows
            assert scaling.x_mean[s, 0] == pytest.approx(known.mean()) and scaling.x_scale[s, 0] == pytest.approx(
                known.std())
        assert abs(split.x_eval.mean()) < 1.5  # levels of 10, 100 and 1000 on one scale


def test_a_short_series_without_training_windows_of_its_own_is_still_scored(tmp_path):
    p = prepare(panel_spec(write(tmp_path, long_table([80, 22, 90]))), CVSpec(folds=2, gap=6))
    w = p.windows
    train, val = p.folds[0]
    assert 1 not in w.series[p.train_idx[train]] and 1 in w.series[p.train_idx[val]]  # learned from the others
    assert np.isfinite(p.fold(0).x_eval).all()
    p = prepare(panel_spec(write(tmp_path, long_table([80, 7, 90]))), CVSpec(folds=2, gap=3))
    assert 1 not in p.windows.series[p.train_idx] and 1 in p.windows.series[p.test_idx]  # one row before its test


def test_a_panel_of_one_series_has_the_single_series_windows_and_more(tmp_path):
    table = long_table([80])
    single_path = tmp_path / "one.csv"
    table.drop(columns="id").to_csv(single_path, index=False)
    cv = CVSpec(folds=3, gap=0)
    panel = prepare(panel_spec(write(tmp_path, table)), cv)
    single = prepare(DataSpec(dataset="csv", path=str(single_path), time="month", target="y", window=12,
                              test_size=6, season=12), cv)
    np.testing.assert_array_equal(panel.x[11:], single.x)  # and the 11 padded ones that start before the series
    np.testing.assert_array_equal(panel.y_orig[panel.test_idx], single.y_orig[single.test_idx])
    np.testing.assert_array_equal(panel.mase_scale, single.mase_scale)


def test_trials_of_any_window_are_scored_on_the_same_validation_targets(tmp_path):
    path = write(tmp_path, long_table([30, 60, 45]))
    keys = []
    for window in (3, 12, 36):  # 36: longer than the shortest series' history
        p = prepare(panel_spec(path, window=window), CVSpec(folds=2, gap=0))
        keys.append([p.fold(k).keys.tolist() for k in range(2)] + [p.test().keys.tolist()])
    assert keys[0] == keys[1] == keys[2]


def test_series_too_short_are_named_or_left_out_with_min_length(tmp_path, capsys):
    path = write(tmp_path, long_table([60, 5, 70, 6]))  # 6 rows: all of them the test split
    with pytest.raises(DataError, match=r"2 of 4 series are too short .* 's1' has 5 rows, it needs at least 7"):
        prepare(panel_spec(path), CVSpec(folds=3, gap=0))
    p = prepare(panel_spec(path, min_length=30), CVSpec(folds=3, gap=0))
    assert p.ids == ("s0", "s2")
    assert "left out 2 series shorter than data.min_length=30 rows (first: 's1', 5 rows)" in capsys.readouterr().err


def test_kfold_on_a_panel_is_refused(tmp_path):
    with pytest.raises(ConfigError, match='set cv.scheme = "time"'):
        prepare(panel_spec(write(tmp_path, long_table([60, 60]))), CVSpec(folds=3, scheme="kfold"))


def test_series_and_min_length_need_a_csv():
    with pytest.raises(ConfigError, match="reads no file, but series is set"):
        DataSpec(dataset="sunspots", series="id")
    with pytest.raises(ConfigError, match="min_length must be >= 0, got min_length=-1"):
        DataSpec(dataset="csv", min_length=-1)
    with pytest.raises(ConfigError, match="metric must be one of"):
        StudySpec(name="x", metric="rmse")


# ---------------------------------------------------------------- metrics


def test_smape_and_mase_as_the_competitions_define_them():
    actual = np.array([[100.0], [200.0], [0.0]])
    pred = np.array([[110.0], [180.0], [0.0]])
    np.testing.assert_allclose(smape_terms(pred, actual).ravel(), [200 * 10 / 210, 200 * 20 / 380, 0.0])
    out = scores(pred, actual, np.array([[5.0], [10.0], [1.0]]))
    assert out["mase"] == pytest.approx((10 / 5 + 20 / 10 + 0) / 3)
    assert out["smape"] == pytest.approx((200 * 10 / 210 + 200 * 20 / 380) / 3)


def test_mase_scale_is_the_in_sample_seasonal_naive_error(tmp_path):
    table = long_table([40, 50])
    p = prepare(panel_spec(write(tmp_path, table)), CVSpec(folds=2, gap=0))
    for s, key in enumerate(["s0", "s1"]):
        y = table[table["id"] == key]["y"].to_numpy()[:-6]  # before the test split
        assert p.mase_scale[s, 0] == pytest.approx(np.mean(np.abs(y[12:] - y[:-12])))


def test_a_panel_too_large_for_memory_is_refused_before_its_windows_are_built(tmp_path, monkeypatch):
    import tuner.limits

    path = write(tmp_path, long_table([400] * 50), shuffle=False)
    monkeypatch.setattr(tuner.limits, "available_bytes", lambda: 40 * 2**20)  # a machine with 40 MiB to spare
    with pytest.raises(MemoryError, match=r"the data \(19950 windows of 64 steps x 1 values\) needs about .* "
                                          r"50 series: lower data.window or leave series out"):
        prepare(panel_spec(path, window=64), CVSpec(folds=3, gap=0))


def test_empty_cells_are_interpolated_within_their_own_series(tmp_path):
    table = long_table([30, 30])
    table.loc[29, "y"] = np.nan  # the last row of s0: filled from s0 alone, never from s1's first row
    frames = read_panel(write(tmp_path, table, shuffle=False), "id", "y", time="month", missing="interpolate")
    assert frames["s0"]["y"].iloc[-1] == frames["s0"]["y"].iloc[-2]  # held at its own last value
