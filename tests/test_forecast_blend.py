"""The final forecast as w x RNN + (1 - w) x ridge on the same windows: the blend is exactly that combination,
folded into one SequenceModel; its weight is inverse to the out-of-fold MSEs; tuner train reports it, saves a
model that tuner predict reproduces, and --no-blend trains the RNN alone."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import cli

import tuner.data
from tuner.config.spec import CVSpec, DataSpec
from tuner.data.prepare import prepare
from tuner.forecast.blend import Ridge, blend_into, choose_weight
from tuner.forecast.predict import predict
from tuner.nn import SequenceModel


@pytest.mark.parametrize("cell, highway", [("gru", 0), ("lstm", 3), ("rnn", 8)])
def test_the_blended_model_forecasts_exactly_the_weighted_combination(rng, cell, highway):
    x = rng.normal(size=(20, 8, 2))
    model = SequenceModel(cell, 2, 5, 3, seed=1, dtype="float64", highway=highway)
    if highway:
        model.params["A"] = rng.normal(size=model.params["A"].shape)
    ridge = Ridge(rng.normal(size=(3, 16)), rng.normal(size=3))
    for w in (0.0, 0.35, 1.0):
        blended = blend_into(model, w, ridge, window=8)
        np.testing.assert_allclose(blended.predict(x), w * model.predict(x) + (1 - w) * ridge.predict(x),
                                   rtol=1e-10, atol=1e-12)
    assert blend_into(model, 0.5, ridge, 8).highway == 8 and model.highway == highway  # the original untouched


def test_the_weight_follows_which_forecast_errs_less_out_of_fold(rng):
    prepared = prepare(DataSpec(dataset="sunspots", window=10), CVSpec(folds=3), seed=0)
    splits = [prepared.fold(f) for f in range(3)]
    ridge = [Ridge.fit(s.x_train, s.y_train).predict(s.x_eval) for s in splits]
    perfect = [s.y_eval for s in splits]  # forecasts without error: all weight on the RNN
    w, mse, folds = choose_weight(splits, perfect)
    assert w == 1.0 and mse["blend"] == mse["rnn"] == pytest.approx(0, abs=1e-9) and mse["ridge"] > 100
    noisy = [r + rng.normal(0, 1.0, r.shape) for r in ridge]  # ridge plus noise: the larger share on ridge
    w, mse, _ = choose_weight(splits, noisy)
    assert w == pytest.approx((1 / mse["rnn"]) / (1 / mse["rnn"] + 1 / mse["ridge"])) and w < 0.5
    assert mse["ridge"] < mse["rnn"]
    # errors of equal size and opposite sign: half and half, and the blend errs not at all
    half = [s.y_eval + (r - s.y_eval) * -1.0 for s, r in zip(splits, ridge, strict=True)]
    w, mse, folds = choose_weight(splits, half)
    assert w == pytest.approx(0.5, abs=1e-6) and mse["blend"] < 1e-6 * min(mse["rnn"], mse["ridge"])
    assert len(folds) == 3 and all(len(k) == len(f) == len(a) for k, f, a in folds)


SUNSPOTS = """
[study]
name = "spots"
n_trials = 1

[data]
dataset = "sunspots"
window = 10

[cv]
folds = 3

[train]
cell = "gru"
hidden_units = 6
epochs = 8
"""


def test_train_reports_the_blend_and_predict_reproduces_it(capsys, tmp_path):
    study = tmp_path / "spots.toml"
    study.write_text(SUNSPOTS)
    code, out, err = cli(capsys, "train", study, "-o", tmp_path / "m")
    assert code == 0, err
    blend = json.loads((tmp_path / "m" / "metrics.json").read_text())["blend"]
    oof = blend["out_of_fold_mse"]
    # inverse-MSE weights: the blend errs out of fold at most the two MSEs' harmonic mean (MSE is convex in w)
    assert blend["weight"] == pytest.approx((1 / oof["rnn"]) / (1 / oof["rnn"] + 1 / oof["ridge"]))
    assert oof["blend"] <= 2 / (1 / oof["rnn"] + 1 / oof["ridge"]) * (1 + 1e-9)
    assert "blended with ridge" in out and f"{blend['weight']:.2f}" in out
    # the saved model is the blend: tuner predict on the same years gives predictions.csv's forecasts
    series = pd.read_csv(Path(tuner.data.__file__).parent / "sunspots.csv", comment="#")
    series.to_csv(tmp_path / "spots.csv", index=False)
    saved = pd.read_csv(tmp_path / "m" / "predictions.csv")
    again = predict(tmp_path / "m", tmp_path / "spots.csv").set_index("time").loc[saved.time]
    np.testing.assert_allclose(again.predicted, saved.predicted, rtol=1e-5)
    code, out, err = cli(capsys, "train", study, "-o", tmp_path / "plain", "--no-blend")
    assert code == 0, err
    plain = json.loads((tmp_path / "plain" / "metrics.json").read_text())
    assert "blend" not in plain and "blended" not in out
    assert plain["test"]["rmse"] == pytest.approx(blend["rnn_alone_test"]["rmse"], rel=1e-6)


SEARCHED_WINDOW = SUNSPOTS.replace('name = "spots"', 'name = "spots_w"').replace("n_trials = 1", "n_trials = 2") + """
[search]
window = [6]
"""


def test_a_config_with_other_windows_blends_with_the_study_ridge_the_table_prints(capsys, tmp_path):
    """The config searched window 6 where the study's [data] says 10: the blend cannot be folded into the model,
    so the study's own ridge is kept beside it; with a share of 0 the forecast is exactly the printed ridge,
    and tuner predict, --steps and a tampered file behave as for a folded blend."""
    from tuner.app.export import export
    from tuner.config.studyfile import load_study
    from tuner.forecast.artifact import Forecaster
    from tuner.tuning.runner import run

    study = tmp_path / "spots_w.toml"
    study.write_text(SEARCHED_WINDOW)
    run(load_study(study), progress=False)
    [config] = export(str(study), str(tmp_path / "best.toml"))
    spec = load_study(config)
    assert spec.data.window == 6 and spec.provenance["baseline_data"]["window"] == 10
    code, out, err = cli(capsys, "train", config, "-o", tmp_path / "m")
    assert code == 0, err
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    blend, oof = metrics["blend"], metrics["blend"]["out_of_fold_mse"]
    assert blend["partner"] == "the study's ridge" and "blended with the study's ridge" in out
    assert blend["weight"] == pytest.approx((1 / oof["rnn"]) / (1 / oof["rnn"] + 1 / oof["ridge"]))
    # the forecast is w x the RNN alone + (1 - w) x the study's ridge, the baseline the table prints
    code, _, err = cli(capsys, "train", config, "-o", tmp_path / "plain", "--no-blend")
    assert code == 0, err
    saved, plain = (pd.read_csv(tmp_path / d / "predictions.csv") for d in ("m", "plain"))
    other = prepare(DataSpec(dataset="sunspots", window=10), CVSpec(folds=3), seed=spec.seed).test()
    ridge = other.to_original(Ridge.fit(other.x_train, other.y_train).predict(other.x_eval))[:, 0]
    assert np.sqrt(np.mean((ridge - saved.actual) ** 2)) == pytest.approx(metrics["baselines"]["ridge"]["rmse"])
    w = blend["weight"]
    np.testing.assert_allclose(saved.predicted, w * plain.predicted + (1 - w) * ridge, rtol=1e-5)
    # saved beside the members: tuner predict reproduces predictions.csv, --steps starts where it ends
    series = pd.read_csv(Path(tuner.data.__file__).parent / "sunspots.csv", comment="#")
    series.to_csv(tmp_path / "spots.csv", index=False)
    again = predict(tmp_path / "m", tmp_path / "spots.csv")
    np.testing.assert_allclose(again.set_index("time").loc[saved.time].predicted, saved.predicted, rtol=1e-5)
    ahead = predict(tmp_path / "m", tmp_path / "spots.csv", steps=3)
    assert ahead.predicted.iloc[0] == pytest.approx(again.predicted.iloc[-1], rel=1e-5)
    assert Forecaster.load(tmp_path / "m").partner.weight == w
    meta = tmp_path / "m" / "model.json"
    doc = json.loads(meta.read_text())
    doc["extra"]["partner"]["weight"] = 2.0
    meta.write_text(json.dumps(doc))
    code, _, err = cli(capsys, "predict", tmp_path / "m", "--data", tmp_path / "spots.csv")
    assert code == 2 and "the blend's ridge is damaged; retrain with tuner train" in err and len(err.splitlines()) == 1
