"""data/statistical.py: statsforecast's models refitted on each window's history, and `[study] compare`: them
scored beside the baselines on every fold (the tune summary) and on the test split (tuner train)."""

import json
import sys

import numpy as np
import optuna
import pytest
from conftest import cli
from statsforecast.models import AutoETS, AutoTheta
from test_panel import panel_study

from tuner.config.studyfile import load_study, study_from_dict, to_doc
from tuner.data import statistical
from tuner.data.metrics import scores
from tuner.data.prepare import prepare
from tuner.data.statistical import as_baselines, window_histories
from tuner.data.statistical import forecasts as partner_forecasts
from tuner.data.windows import window_keys
from tuner.errors import ConfigError, DataError


def seasonal(n: int, seed: int = 0) -> np.ndarray:
    t = np.arange(n)
    return 50 + 0.3 * t + 8 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(seed).normal(0, 1, n)


def test_partner_forecasts_are_statsforecasts_own_refitted_on_each_history():
    histories = [seasonal(60), seasonal(48, seed=1)[:40]]
    got = partner_forecasts(("ets", "theta"), histories, horizon=6, season=12)
    for name, model in (("ets", AutoETS), ("theta", AutoTheta)):
        want = np.stack([model(season_length=12).forecast(y=h, h=6)["mean"] for h in histories])
        np.testing.assert_allclose(got[name], want, rtol=1e-6)
    assert got["ets"].shape == (2, 6) and np.isfinite(got["ets"]).all()


def test_partners_are_fitted_once_for_the_same_history(monkeypatch):
    history = [seasonal(50, seed=3)]
    first = partner_forecasts(("theta",), history, 3, 12)
    monkeypatch.setattr(statistical, "_fit", lambda *a: pytest.fail("refitted a history it had forecast"))
    np.testing.assert_array_equal(partner_forecasts(("theta",), history, 3, 12)["theta"], first["theta"])


def test_too_many_windows_to_refit_at_are_refused_before_any_fit(monkeypatch):
    monkeypatch.setattr(statistical, "MAX_FITS", 2)
    with pytest.raises(DataError, match="refitted at each of 3 windows .* use --steps"):
        partner_forecasts(("ets",), [seasonal(20)] * 3, 1, 0)


def test_histories_too_large_for_memory_are_refused_before_statsforecasts_frame_is_built(monkeypatch):
    import tuner.limits

    monkeypatch.setattr(tuner.limits, "available_bytes", lambda: 2**20)  # a machine with 1 MiB to spare
    monkeypatch.setattr(statistical, "_fit", lambda *a: pytest.fail("fitted beyond the memory bound"))
    with pytest.raises(MemoryError, match=r"fitting ets on 100 windows' histories \(200000 values\) needs about"):
        partner_forecasts(("ets",), [seasonal(2000, seed=9)] * 100, 1, 12)


def with_compare(study, names=("ets", "theta")) -> None:
    text = study.read_text().replace('[study]\n', f'[study]\ncompare = {list(names)!r}\n'.replace("'", '"'), 1)
    study.write_text(text)


def test_compare_scores_statsforecasts_models_on_every_fold_beside_the_baselines(tmp_path, capsys):
    study = panel_study(tmp_path, lengths=(48, 60, 54), trials=1, metric="smape")  # 78 fits a model
    with_compare(study)
    code, out, err = cli(capsys, "tune", study, "-q")
    assert code == 0, err
    assert "baseline AutoETS" in out and "baseline AutoTheta" in out
    spec = load_study(study)
    trial = optuna.load_study(study_name="panel", storage=spec.storage_url()).best_trial
    got = trial.user_attrs["baselines"]
    prepared = prepare(spec.data, spec.cv, spec.seed)
    for i, (_, va) in enumerate(prepared.folds):  # by hand: AutoETS fitted on each validation window's history
        split, idx = prepared.fold(i), prepared.train_idx[va]
        want = np.stack([AutoETS(season_length=12).forecast(y=h, h=1)["mean"]
                         for h in window_histories(prepared.windows, idx)])
        assert got["AutoETS"][i] == pytest.approx(scores(want, split.y_eval_orig, split.mase_scale)["smape"])
    # a trended seasonal panel: ETS, which models both, beats the seasonal naive forecast on every fold
    assert all(e < n for e, n in zip(got["AutoETS"], got["seasonal naive"], strict=True))


def test_a_config_with_compare_shows_the_models_in_tuner_trains_table_without_combining(tmp_path, capsys):
    study = panel_study(tmp_path, lengths=(48, 60, 54), trials=1)
    with_compare(study, ("theta",))
    code, out, err = cli(capsys, "train", study, "-o", tmp_path / "model")
    assert code == 0, err
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert "AutoTheta" in metrics["baselines"] and "AutoTheta" in out and "combined" not in metrics


def test_a_window_too_short_to_fit_is_scored_with_the_stand_in_forecast():
    rows = np.array([statistical.MIN_HISTORY - 1, 41])  # each window's first target row: 9 and 41 values before
    histories_of = type("W", (), {"original": seasonal(50)[:, None],
                                  "keys": lambda self, idx: window_keys(rows[idx])})()
    stand_in = np.array([[1.0], [2.0]])
    got = as_baselines(("ets",), histories_of, np.arange(2), 1, 0, {"seasonal naive": stand_in})["AutoETS"]
    assert got[0, 0] == 1.0 and got[1, 0] != 2.0 and np.isfinite(got).all()


@pytest.mark.parametrize("doc, message", [
    ({"compare": ["prophet"]}, "study.compare must be one of ets, theta, arima; got compare='prophet'"),
    ({"compare": "ets"}, "study.compare must be a list of strings"),
])
def test_a_wrong_compare_is_one_line_naming_the_key(doc, message):
    with pytest.raises(ConfigError, match=message):
        study_from_dict({"study": {"name": "x", **doc}})


def test_compare_round_trips_through_every_export_format():
    spec = study_from_dict({"study": {"name": "x", "compare": ["ets", "arima"]}})
    doc = to_doc(spec)
    assert doc["study"]["compare"] == ["ets", "arima"]
    import yaml

    assert study_from_dict(yaml.safe_load(yaml.safe_dump(doc))).compare == ("ets", "arima")
    assert study_from_dict(json.loads(json.dumps(doc))).compare == ("ets", "arima")


def test_compare_on_independent_sequences_or_without_the_extra_is_refused_before_any_trial(tmp_path, capsys,
                                                                                          monkeypatch):
    adding = tmp_path / "adding.toml"
    adding.write_text(open("studies/adding.toml").read().replace("[study]\n", '[study]\ncompare = ["ets"]\n', 1))
    code, _, err = cli(capsys, "tune", adding, "-q", "--n-trials", "1")
    assert code != 0 and "[study] compare forecasts one target of a time series" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "adding.db").exists()
    study = panel_study(tmp_path, trials=1)
    with_compare(study)
    monkeypatch.setitem(sys.modules, "statsforecast", None)  # as if the extra were not installed
    code, _, err = cli(capsys, "tune", study, "-q")
    assert code != 0 and "[study] compare needs statsforecast" in err and "pip install 'tuner[stats]'" in err


def test_a_dry_run_fits_nothing_and_too_many_validation_windows_are_refused_before_any_trial(tmp_path, capsys,
                                                                                            monkeypatch):
    study = panel_study(tmp_path, lengths=(48, 60, 54), trials=1)
    with_compare(study, ("ets",))
    monkeypatch.setattr(statistical, "_fit", lambda *a: pytest.fail("a dry run fitted a statistical model"))
    code, out, err = cli(capsys, "tune", study, "--dry-run")
    assert code == 0, err
    monkeypatch.setattr(statistical, "MAX_FITS", 10)  # the panel has 78 validation windows over its folds
    code, _, err = cli(capsys, "tune", study, "-q")
    assert code != 0 and "[study] compare would refit ets at each of 78 validation windows (at most 10)" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "panel.db").exists()


def test_forecasts_remembered_from_a_saved_run_are_not_fitted_again(monkeypatch):
    monkeypatch.setattr(statistical, "_cache", {})
    histories = [seasonal(30, seed=s) for s in range(3)]
    saved = np.arange(6.0).reshape(3, 2)
    statistical.remember("ets", histories, 2, 12, saved)
    monkeypatch.setattr(statistical, "_fit", lambda *a: pytest.fail("fitted what was remembered"))
    np.testing.assert_array_equal(partner_forecasts(("ets",), histories, 2, 12)["ets"], saved)
