"""Forecasts as a forecasting user expects them: intervals from out-of-fold residuals with their coverage
checked, forecasts past the end of the data with intervals that widen, and times as the data writes them."""

import io
import json
import textwrap

import numpy as np
import pandas as pd
import pytest
from conftest import cli

from tuner.app.ensemble import train_ensemble
from tuner.app.export import export
from tuner.config.studyfile import load_study
from tuner.forecast.intervals import GAMMA, Intervals, conformal_width
from tuner.forecast.predict import predict
from tuner.tuning.runner import run

MONTHLY = """
[study]
name = "monthly"
n_trials = 3
seed = 0
sampler = "random"

[data]
dataset = "csv"
path = "{path}"
target = "sales"
time = "month"
window = 12
season = 12
test_size = 24

[cv]
folds = 3

[train]
cell = "gru"
hidden_units = 6
epochs = 25
patience = 5
highway = 12
learning_rate = 0.01
batch_size = 8

[search]
learning_rate = [0.005, 0.01, 0.02]
"""


@pytest.fixture(scope="module")
def monthly(tmp_path_factory):
    """A monthly series with a yearly season, tuned and trained as the top-2 ensemble."""
    folder = tmp_path_factory.mktemp("monthly")
    rng = np.random.default_rng(0)
    months = pd.date_range("2001-01", periods=150, freq="MS")
    sales = 100 + 20 * np.sin(2 * np.pi * np.arange(150) / 12) + 0.2 * np.arange(150) + rng.normal(0, 3, 150)
    pd.DataFrame({"month": months.strftime("%Y-%m"), "sales": sales}).to_csv(folder / "sales.csv", index=False)
    study = folder / "monthly.toml"
    study.write_text(textwrap.dedent(MONTHLY.format(path=folder / "sales.csv")))
    run(load_study(study), progress=False)
    configs = export(str(study), str(folder / "best.toml"), top=2)
    result = train_ensemble([load_study(c) for c in configs], folder / "model")
    return folder, configs, result


def test_conformal_width_is_the_ceil_n_plus_1_quantile():
    residuals = np.arange(1, 20, dtype=float)[:, None] * np.array([[1.0, -2.0]])  # 19 residuals, two columns
    np.testing.assert_array_equal(conformal_width(residuals, 0.9), [18.0, 36.0])  # ceil(20 * 0.9) = 18th
    np.testing.assert_array_equal(conformal_width(residuals, 0.5), [10.0, 20.0])
    np.testing.assert_array_equal(conformal_width(residuals, 0.99), [19.0, 38.0])  # too few: the largest


def test_adaptive_intervals_use_only_errors_already_known_and_cover_under_a_shift():
    """ACI: after a shift to errors 1.3x those of the out-of-fold pool, the walked intervals cover about the
    nominal share (Gibbs and Candes' bound over 3000 steps: 1.5 points), the fixed ones do not; and row i's
    width never depends on a value not known at its time (step s of row j is known s rows later)."""
    rng = np.random.default_rng(0)
    intervals = Intervals(0.9, rng.normal(size=(400, 2)), adapt_from="t0")
    actual, forecast = 1.3 * rng.normal(size=(3000, 2)), np.zeros((3000, 2))
    steps = np.array([1, 2])
    widths, after = intervals.walk(forecast, actual, steps)
    covered = (np.abs(actual) <= widths).mean(axis=0)
    assert np.all(np.abs(covered - 0.9) < 0.015), covered
    assert np.all((np.abs(actual) <= intervals.width).mean(axis=0) < 0.85)  # the nominal width under-covers
    assert after.level is not None and np.all((0 <= after.level) & (after.level <= 1))
    for i in (0, 1, 7, 500):
        changed = actual.copy()
        changed[i:] = 50.0  # everything from row i on missed by far
        moved = intervals.walk(forecast, changed, steps)[0]
        np.testing.assert_array_equal(moved[: i + 1], widths[: i + 1])  # row i's own value is not known at i
        np.testing.assert_array_equal(moved[i + 1, 1], widths[i + 1, 1])  # step 2 of row i is known at i + 2
        assert moved[i + 2, 0] > widths[i + 2, 0] or moved[i + 2, 0] == np.abs(intervals.residuals[:, 0]).max()
    unknown = actual.copy()
    unknown[10:] = np.nan  # past the data's end: no error known, the level holds
    w, held = intervals.walk(forecast[:20], unknown[:20], steps)
    assert np.all(w[12:] == w[12]) and np.array_equal(held.level, intervals.walk(forecast[:10], actual[:10], steps)[1]
                                                      .level)


def test_predictions_keep_the_months_and_carry_intervals_whose_coverage_is_reported(monthly):
    folder, configs, result = monthly
    predictions = pd.read_csv(folder / "model" / "predictions.csv")
    assert list(predictions.columns) == ["time", "actual", "predicted", "lower", "upper"]
    assert predictions.time.iloc[0] == "2011-07" and predictions.time.iloc[-1] == "2013-06"  # the last 24 months
    inside = ((predictions.lower <= predictions.actual) & (predictions.actual <= predictions.upper)).mean()
    iv = result.metrics["intervals"]
    assert iv["test_coverage"] == pytest.approx(inside) and iv["coverage"] == 0.9 and iv["residuals"] > 20
    assert "90% prediction intervals" in result.table and f"{inside:.1%} of values fall inside" in result.table
    assert "seasonal naive" in result.metrics["baselines"]  # data.season = 12
    saved = Intervals.from_dict(json.loads((folder / "model" / "intervals.json").read_text()), "x")
    assert saved.adapt_from == "2011-07" and iv["adaptive"] and iv["gamma"] == GAMMA
    # the bounds follow ACI's rule, written out again here: the nominal width first, then each error known
    # moves the level by gamma * (0.1 - missed) and the width is the conformal quantile at the new level
    ordered, errors = np.sort(np.abs(saved.residuals[:, 0])), (predictions.actual - predictions.predicted).to_numpy()
    alpha, expected = 0.1, []
    for e in errors:
        rank = min(max(int(np.ceil((len(ordered) + 1) * (1 - alpha))), 1), len(ordered))
        expected.append(ordered[rank - 1])
        alpha = min(max(alpha + GAMMA * (0.1 - (abs(e) > expected[-1])), 0.0), 1.0)
    np.testing.assert_allclose(predictions.upper - predictions.predicted, expected, rtol=1e-9)
    assert expected[0] == pytest.approx(saved.width[0]) and len(set(expected)) > 1 and saved.alpha[0] == pytest.approx(
        alpha)
    fixed = (np.abs(errors) <= saved.width[0]).mean()
    assert iv["fixed_test_coverage"] == pytest.approx(fixed) and f"at the nominal width throughout {fixed:.1%}" in \
        result.table
    # tuner predict on the same data gives the same bounds: its walk starts at the same month
    again = predict(folder / "model", folder / "sales.csv").set_index("time").loc[predictions.time]
    np.testing.assert_allclose(again.upper - again.predicted, expected, rtol=1e-9)
    np.testing.assert_allclose(again.upper, predictions.upper, rtol=1e-6)  # float32 members, another pass
    # data that starts after the test split's first month: the walk starts at its first out-of-sample row
    pd.read_csv(folder / "sales.csv").iloc[-18:].to_csv(folder / "recent.csv", index=False)
    recent = predict(folder / "model", folder / "recent.csv")
    width = (recent.upper - recent.predicted).to_numpy()
    assert recent.time.iloc[0] == "2013-01" and width[0] == pytest.approx(saved.width[0]) and len(set(width)) > 1


def test_forecasts_past_the_end_continue_the_months_and_their_intervals_widen(monthly):
    folder, _, _ = monthly
    every = predict(folder / "model", folder / "sales.csv")
    assert every.time.iloc[-1] == "2013-07"  # the window after the last row forecasts the next month
    ahead = predict(folder / "model", folder / "sales.csv", steps=30)
    assert list(ahead.columns) == ["time", "step", "target", "predicted", "lower", "upper"]
    assert list(ahead.step) == list(range(1, 31)) and ahead.time.iloc[0] == "2013-07"
    assert ahead.time.iloc[-1] == "2015-12"
    assert ahead.predicted.iloc[0] == pytest.approx(every.predicted.iloc[-1], rel=1e-5)  # step 1 is the forecast
    width = (ahead.upper - ahead.lower).to_numpy()
    assert (ahead.lower < ahead.predicted).all() and (ahead.predicted < ahead.upper).all()
    assert width[-6:].mean() > 1.3 * width[:6].mean()  # errors compound as forecasts are fed back
    # the season carries on: the forecast 12 months ahead is closer to the same month a year before than 6
    assert np.corrcoef(ahead.predicted[:18], ahead.predicted.shift(-12)[:18])[0, 1] > 0.8
    again = predict(folder / "model", folder / "sales.csv", steps=30)
    pd.testing.assert_frame_equal(ahead, again)  # seeded simulation: the same bounds every time


def test_predict_cli_steps_and_damaged_intervals(monthly, capsys, tmp_path):
    folder, _, _ = monthly
    code, out, _ = cli(capsys, "predict", folder / "model" / "member-1", "--data", folder / "sales.csv", "--steps",
                       "3")
    assert code == 0 and out.splitlines()[0] == "time,step,target,predicted,lower,upper" and len(out.splitlines()) == 4
    code, _, err = cli(capsys, "predict", folder / "model", "--data", folder / "sales.csv", "--steps", "0")
    assert code == 2 and "--steps: must be at least 1" in err
    damaged = folder / "model" / "member-2" / "intervals.json"
    good = damaged.read_text()
    try:
        for bad in ({"residuals": [[float("nan")]]}, {"residuals": [[1.0]], "level": [2.0]},
                    {"residuals": [[1.0]], "level": [0.1, 0.1]}, {"residuals": [[1.0]], "adapt_from": 2011}):
            damaged.write_text(json.dumps({"format": "tuner.Intervals/1", "coverage": 0.9, **bad}))
            code, _, err = cli(capsys, "predict", folder / "model" / "member-2", "--data", folder / "sales.csv")
            assert code == 2 and "intervals.json is damaged; retrain with tuner train" in err, bad
            assert len(err.splitlines()) == 1
    finally:
        damaged.write_text(good)


def test_train_coverage_option(monthly, capsys, tmp_path):
    _, configs, _ = monthly
    code, out, _ = cli(capsys, "train", configs[0], "-o", tmp_path / "m", "--coverage", "0.5")
    assert code == 0 and "50% prediction intervals" in out
    assert json.loads((tmp_path / "m" / "metrics.json").read_text())["intervals"]["coverage"] == 0.5
    code, _, err = cli(capsys, "train", configs[0], "-o", tmp_path / "m", "--coverage", "1.5")
    assert code == 2 and "--coverage: must be between 0 and 1" in err


def test_train_gamma_option_zero_keeps_the_intervals_fixed(monthly, capsys, tmp_path):
    _, configs, _ = monthly
    code, out, _ = cli(capsys, "train", configs[0], "-o", tmp_path / "m", "--gamma", "0")
    iv = json.loads((tmp_path / "m" / "metrics.json").read_text())["intervals"]
    width = (lambda p: p.upper - p.predicted)(pd.read_csv(tmp_path / "m" / "predictions.csv"))
    assert code == 0 and not iv["adaptive"] and iv["test_coverage"] == iv["fixed_test_coverage"]
    np.testing.assert_allclose(width, iv["width"][0], rtol=1e-9)
    assert "adapting" not in out and "90% prediction intervals: forecast ±" in out
    for bad in ("0.7", "nan", "x"):
        code, _, err = cli(capsys, "train", configs[0], "-o", tmp_path / "m", "--gamma", bad)
        assert code == 2 and "--gamma: must be" in err
    code, out, _ = cli(capsys, "train", "--help")
    assert f"default {GAMMA}, 0: fixed" in " ".join(out.split())


def test_train_draws_the_test_split_and_the_forecast_past_the_end(monthly):
    """forecast.png: two panels, and its pixels carry the forecast's colours (a picture, not an empty file);
    ahead.csv holds the forecast drawn past the end, at the months after the data's last."""
    folder, _, result = monthly
    png = folder / "model" / "forecast.png"
    assert result.picture == png
    image = __import__("matplotlib.image", fromlist=["imread"]).imread(png)
    assert image.shape[0] > image.shape[1] * 0.6  # two panels, one above the other
    blue = (image[..., 2] > 0.6) & (image[..., 0] < 0.3)  # tab:blue, the test forecast
    orange = (image[..., 0] > 0.9) & (image[..., 1] > 0.4) & (image[..., 1] < 0.6) & (image[..., 2] < 0.2)
    assert blue.sum() > 200 and orange.sum() > 200
    ahead = pd.read_csv(folder / "model" / "ahead.csv")
    assert len(ahead) == 24 and ahead.time.iloc[0] == "2013-07"  # min(test rows, 36) steps


@pytest.mark.parametrize("data", ["/dev/zero", "fifo"])
def test_predict_refuses_a_device_or_a_pipe_at_once(monthly, capsys, data):
    """/dev/zero reports size 0 and never ends: only a regular file is read (and never past the size bound)."""
    import os

    from conftest import cli

    folder, _, _ = monthly
    if data == "fifo":
        data = folder / "pipe"
        if not data.exists():
            os.mkfifo(data)
    code, _, err = cli(capsys, "predict", folder / "model", "--data", data)
    assert code == 2 and err.strip() == (f"tuner: error: data file {data} is not a regular file (a device or a "
                                         f"pipe); save it to a file and give that")


def test_predict_on_data_with_a_gap_says_what_a_user_of_a_trained_model_can_do(monthly, capsys):
    """data.missing is a study key; on a trained model the fix is the file (or retraining)."""
    from conftest import cli

    folder, _, _ = monthly
    frame = pd.read_csv(folder / "sales.csv")
    frame.loc[40, "sales"] = np.nan
    frame.to_csv(folder / "holes.csv", index=False)
    code, _, err = cli(capsys, "predict", folder / "model", "--data", folder / "holes.csv")
    assert code == 2 and "has 1 missing value (first in column 'sales', data row 41); fill them in the file" in err
    assert "set data.missing" not in err


def test_steps_paths_sets_the_simulated_futures_and_zero_leaves_the_intervals_out(monthly, capsys):
    from conftest import cli

    folder, _, _ = monthly
    runs = {}
    for paths in ("0", "40", "500"):
        code, out, err = cli(capsys, "predict", folder / "model", "--data", folder / "sales.csv", "--steps", "30",
                             "--paths", paths)
        assert code == 0, err
        runs[paths] = pd.read_csv(io.StringIO(out))
    assert list(runs["0"].columns) == ["time", "step", "target", "predicted"]
    assert {"lower", "upper"} <= set(runs["40"].columns)
    for paths in ("40", "500"):  # the point forecast does not depend on how many futures are simulated
        np.testing.assert_allclose(runs[paths]["predicted"], runs["0"]["predicted"], rtol=1e-6)
    assert cli(capsys, "predict", folder / "model", "--data", folder / "sales.csv", "--paths", "-1")[0] == 2


def test_futures_that_explode_are_said_once_in_words_not_as_numpy_warnings(monthly, capsys):
    """Residuals of 1e40 in half the draws: fed back, those futures pass float32's range (a cast overflow, then
    inf and nan through the model). No RuntimeWarning escapes; one note says how many futures were lost, and
    the bounds come from the rest."""
    import warnings

    from tuner.forecast.ahead import forecast_ahead
    from tuner.forecast.artifact import Forecaster

    folder, _, _ = monthly
    forecaster = Forecaster.load(folder / "model" / "member-1")
    frame, targets = forecaster.read(folder / "sales.csv")
    residuals = np.where(np.arange(200)[:, None] % 2 == 0, 0.0, 1e40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = forecast_ahead([forecaster], frame, targets, 3, Intervals(0.9, residuals, adapt_from="t0"))
    err = capsys.readouterr().err
    assert err.count("note: ") == 1 and "simulated futures grew past what floating point holds" in err
    assert np.isfinite(out[["predicted", "lower", "upper"]].to_numpy()).all()


def test_the_point_forecast_is_computed_with_its_simulated_futures_so_rounding_cannot_split_them(monthly):
    """With out-of-fold errors of zero every simulated future is the point forecast: the bounds equal it
    exactly (they were once computed in another batch, and rounding put a few points outside by 1e-7)."""
    from tuner.forecast.ahead import forecast_ahead
    from tuner.forecast.artifact import Forecaster

    folder, _, _ = monthly
    forecaster = Forecaster.load(folder / "model" / "member-1")
    frame, targets = forecaster.read(folder / "sales.csv")
    out = forecast_ahead([forecaster], frame, targets, 40, Intervals(0.9, np.zeros((50, 1)), adapt_from="t0"))
    np.testing.assert_array_equal(out["lower"], out["predicted"])
    np.testing.assert_array_equal(out["upper"], out["predicted"])


def test_out_of_fold_rows_are_matched_by_series_and_row_never_by_row_alone():
    """A window's key is (series, row): two configs' forecasts meet where both forecast the same row of the
    same series; the same row number of another series is another window."""
    from tuner.data.windows import window_keys
    from tuner.errors import ConfigError
    from tuner.forecast.intervals import ensemble_residuals

    actual = np.arange(6.0)[:, None]
    a = (window_keys(np.array([3, 4, 5, 6, 7, 8])), actual, actual)
    b = (window_keys(np.array([8, 7, 6, 5])), np.full((4, 1), 1.0), actual[[5, 4, 3, 2]])
    np.testing.assert_array_equal(ensemble_residuals([a, b]), [[0.5], [1.0], [1.5], [2.0]])  # rows 5..8: a - mean
    other = (window_keys(np.array([3, 4, 5, 6, 7, 8]), series=1), actual, actual)
    with pytest.raises(ConfigError, match="share no out-of-fold windows"):
        ensemble_residuals([a, other])
