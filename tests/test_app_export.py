import base64
import dataclasses
import json
import socket
import subprocess
import time
import tomllib
import urllib.request

import numpy as np
import optuna
import pandas as pd
import pytest
import tomli_w
from conftest import BIN

from tuner.app.ensemble import train_ensemble
from tuner.app.export import export, find_study, trials_table
from tuner.app.report import build_report
from tuner.app.train_final import train_final
from tuner.cli import main
from tuner.config.studyfile import load_study
from tuner.data.prepare import prepare
from tuner.errors import ConfigError
from tuner.evaluate.cv import cross_validate
from tuner.forecast.artifact import Forecaster
from tuner.forecast.predict import predict
from tuner.nn import SequenceModel
from tuner.tuning.runner import open_study, run


@pytest.fixture
def tuned(tiny_study):
    """A finished tiny study: (study file path, optuna study)."""
    path = tiny_study(n_trials=4)
    return path, run(load_study(path), progress=False).study


@pytest.mark.parametrize("fmt", ["toml", "json", "yaml"])
def test_exported_config_reproduces_the_trials_cv_score(tuned, tmp_path, fmt):
    path, study = tuned
    [out] = export(str(path), str(tmp_path / f"best.{fmt}"))
    spec = load_study(out)  # tuner train's loader takes it unchanged
    best = study.best_trial
    study_data = load_study(path).data
    assert spec.data == dataclasses.replace(study_data, **{k: v for k, v in best.params.items()
                                                           if hasattr(study_data, k)})
    if fmt == "toml":  # only the keys that apply: a sine study reads no file, adam has no momentum
        written = tomllib.loads(out.read_text())
        assert not {"path", "target", "features", "time", "missing", "length"} & set(written["data"])
        assert "n_points" in written["data"] and "window" in written["data"]
        others = {"momentum", "nesterov", "beta1", "beta2", "rho"} - set(spec.train.optimizer_settings())
        assert others and not others & set(written["train"])
    assert spec.provenance["trial"] == best.number and spec.provenance["cv_mse"] == best.value
    assert spec.search == {} and all(getattr(spec.train, k, None) == v or getattr(spec.data, k, None) == v
                                     for k, v in best.params.items())
    cv = cross_validate(spec, prepare(spec.data, spec.cv, spec.seed), spec.provenance["trial"])
    assert cv.mean == pytest.approx(best.value, rel=1e-9)
    assert cv.fold_mse == pytest.approx(best.user_attrs["fold_mse"], rel=1e-9)


def test_train_writes_model_metrics_and_predictions(tuned, tmp_path):
    path, study = tuned
    [config] = export(str(path), str(tmp_path / "best.toml"))
    result = train_final(load_study(config), tmp_path / "run")
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert files == {"model.npz", "model.json", "metrics.json", "predictions.csv", "intervals.json", "forecast.png",
                     "ahead.csv"}
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(metrics["baselines"]) == {"persistence", "mean", "ridge"}
    assert metrics["test"]["rmse"] == pytest.approx(np.sqrt(metrics["test"]["mse"]))
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert list(predictions.columns) == ["time", "actual", "predicted", "lower", "upper"]
    assert len(predictions) == metrics["n_test"]
    assert (predictions.lower < predictions.predicted).all() and (predictions.predicted < predictions.upper).all()
    inside = ((predictions.lower <= predictions.actual) & (predictions.actual <= predictions.upper)).mean()
    assert metrics["intervals"]["test_coverage"] == pytest.approx(inside) and metrics["intervals"]["coverage"] == 0.9
    rmse = np.sqrt(np.mean((predictions.actual - predictions.predicted) ** 2))
    assert rmse == pytest.approx(metrics["test"]["rmse"], rel=1e-6)
    assert metrics["test"]["rmse"] < metrics["baselines"]["mean"]["rmse"]  # it learned something
    assert "held-out test split" in result.table and "persistence" in result.table


def test_predict_with_a_saved_model_on_new_data(tuned, tmp_path):
    path, _ = tuned
    [config] = export(str(path), str(tmp_path / "best.toml"))
    train_final(load_study(config), tmp_path / "run")
    series = np.sin(np.arange(60) / 4.0)
    pd.DataFrame({"value": series}).to_csv(tmp_path / "new.csv", index=False)
    forecast = predict(tmp_path / "run", tmp_path / "new.csv")
    window = load_study(config).data.window
    assert len(forecast) == 60 - window + 1  # every window, the last one forecasting beyond the data
    assert list(forecast.columns) == ["time", "predicted", "lower", "upper"]
    assert forecast["time"].iloc[-1] == 60 and np.isfinite(forecast["predicted"]).all()  # the time it forecasts


def test_an_ensemble_trains_saves_and_predicts_with_every_member(tuned, tmp_path):
    path, _ = tuned
    [config] = export(str(path), str(tmp_path / "best.toml"))
    doc = tomllib.loads(config.read_text())
    doc["train"]["ensemble"] = 3
    config.write_text(tomli_w.dumps(doc))
    result = train_final(load_study(config), tmp_path / "run", blend=False)  # the members as trained
    run_dir = tmp_path / "run"
    assert {"model.npz", "model-1.npz", "model-2.npz"} <= {p.name for p in run_dir.iterdir()}
    members = [SequenceModel.load(run_dir / n) for n in ("model", "model-1", "model-2")]
    assert len({float(m.params["V"].sum()) for m in members}) == 3  # three seeds, three different models
    assert result.metrics["model"]["ensemble"] == 3 and "mean of 3 models" in result.table
    # a forecast from the saved directory is the mean of the members' forecasts
    series = np.sin(np.arange(40) / 4.0)
    pd.DataFrame({"value": series}).to_csv(tmp_path / "new.csv", index=False)
    forecast = predict(run_dir, tmp_path / "new.csv")["predicted"].to_numpy()
    saved = Forecaster.load(run_dir)
    assert len(saved.members) == 3
    single = [Forecaster([m], saved.scaling, saved.spec).forecast(tmp_path / "new.csv")["predicted"].to_numpy()
              for m in saved.members]
    np.testing.assert_allclose(forecast, np.mean(single, axis=0), rtol=1e-5, atol=1e-6)
    assert not np.allclose(single[0], single[1])


def test_the_top_k_configs_train_one_ensemble_that_averages_their_forecasts(tuned, tmp_path, capsys):
    path, _ = tuned
    configs = export(str(path), str(tmp_path / "cfg.toml"), top=3)
    assert main(["train", *map(str, configs), "-o", str(tmp_path / "ens")]) == 0
    assert "ensemble (tuned)" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "ens" / "metrics.json").read_text())
    alone = [pd.read_csv(tmp_path / "ens" / f"member-{i}" / "predictions.csv") for i in (1, 2, 3)]
    mean = np.mean([a.predicted for a in alone], axis=0)
    actual = alone[0].actual.to_numpy()
    assert metrics["test"]["mse"] == pytest.approx(np.mean((mean - actual) ** 2), rel=1e-9)
    assert metrics["test"]["mse"] <= np.mean([m["test"]["mse"] for m in metrics["members"]])  # Jensen
    assert [m["trial"] for m in metrics["members"]] == [load_study(c).provenance["trial"] for c in configs]
    # forecasting with the directory averages the members' forecasts, window by window
    pd.DataFrame({"value": np.sin(np.arange(40) / 4.0)}).to_csv(tmp_path / "new.csv", index=False)
    forecast = predict(tmp_path / "ens", tmp_path / "new.csv")
    each = [predict(tmp_path / "ens" / f"member-{i}", tmp_path / "new.csv") for i in (1, 2, 3)]
    np.testing.assert_allclose(forecast["predicted"], np.mean([e["predicted"] for e in each], axis=0), rtol=1e-12)
    # retraining one config into the same directory leaves a single model, whatever the old members
    train_final(load_study(configs[0]), tmp_path / "ens")
    np.testing.assert_allclose(predict(tmp_path / "ens", tmp_path / "new.csv")["predicted"],
                               each[0]["predicted"], rtol=1e-6)


def test_an_ensemble_of_different_windows_forecasts_where_every_member_can(tuned, tmp_path):
    path, _ = tuned
    a, b = export(str(path), str(tmp_path / "cfg.toml"), top=2)
    doc = tomllib.loads(b.read_text())
    doc["data"]["window"] = 12  # the study used 8: this member needs four more rows before its first forecast
    b.write_text(tomli_w.dumps(doc))
    train_ensemble([load_study(a), load_study(b)], tmp_path / "ens")
    pd.DataFrame({"value": np.sin(np.arange(40) / 4.0)}).to_csv(tmp_path / "new.csv", index=False)
    forecast = predict(tmp_path / "ens", tmp_path / "new.csv")
    short, long = (predict(tmp_path / "ens" / m, tmp_path / "new.csv") for m in ("member-1", "member-2"))
    assert len(short) == 40 - 8 + 1 and len(long) == 40 - 12 + 1 and len(forecast) == len(long)
    assert list(forecast["time"]) == list(long["time"]) and forecast["time"].iloc[-1] == 40
    both = short.set_index("time").loc[long["time"], "predicted"].to_numpy()
    np.testing.assert_allclose(forecast["predicted"], (both + long["predicted"].to_numpy()) / 2, rtol=1e-12)


def test_baselines_hold_still_across_trials_and_configs_of_one_study(tiny_study, tmp_path):
    """Baselines have one definition per study (its [data] as written): every trial carries the same ones,
    whatever window it searched, and every exported config meets the same ones on the test split."""
    path = tiny_study(name="windows", n_trials=4, search="window = [6, 10]\nlearning_rate = [0.01, 0.02]")
    path.write_text(path.read_text().replace("n_trials = 4", 'n_trials = 4\nsampler = "grid"'))  # both windows
    study = run(load_study(path), progress=False).study
    trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert {t.params["window"] for t in trials} == {6, 10}
    assert all(t.user_attrs["baselines"] == trials[0].user_attrs["baselines"] for t in trials)
    configs = export(str(path), str(tmp_path / "cfg.toml"), top=4)
    windows = {load_study(c).data.window: c for c in configs}
    assert set(windows) == {6, 10}
    ridge = {w: train_final(load_study(c), tmp_path / f"w{w}").metrics["baselines"]["ridge"]
             for w, c in windows.items()}
    assert ridge[6] == ridge[10]  # the study's window (8) for both
    base = load_study(windows[6])
    assert base.provenance["baseline_data"]["window"] == 8
    own = prepare(base.data, base.cv, base.seed).test().baselines()["ridge"]  # what it was before: window 6
    assert own != ridge[6]


def test_an_ensemble_of_configs_from_different_splits_is_refused(tuned, tmp_path):
    path, _ = tuned
    [config] = export(str(path), str(tmp_path / "a.toml"))
    doc = tomllib.loads(config.read_text())
    doc["data"]["test_fraction"] = 0.3
    (tmp_path / "b.toml").write_text(tomli_w.dumps(doc))
    with pytest.raises(ConfigError, match="forecast different test splits"):
        train_ensemble([load_study(config), load_study(tmp_path / "b.toml")], tmp_path / "run")


def test_cli_export_train_predict_round_trip(tuned, tmp_path, capsys):
    path, _ = tuned
    assert main(["export", str(path), "-o", str(tmp_path / "best.toml")]) == 0
    assert main(["train", str(tmp_path / "best.toml"), "-o", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "RMSE" in out and "ridge" in out and (tmp_path / "run" / "model.npz").exists()


def test_top_k_writes_one_file_each(tuned, tmp_path):
    path, study = tuned
    written = export(str(path), str(tmp_path / "cfg.toml"), top=3)
    assert [p.name for p in written] == ["cfg-1.toml", "cfg-2.toml", "cfg-3.toml"]
    values = [load_study(p).provenance["cv_mse"] for p in written]
    assert values == sorted(values) and values[0] == study.best_value


def test_export_by_study_name_and_storage(tuned, tmp_path):
    path, study = tuned
    url = f"sqlite:///{tmp_path / 'tiny.db'}"
    [out] = export("tiny", str(tmp_path / "by-name.toml"), storage=url)
    assert load_study(out).provenance["trial"] == study.best_trial.number


def test_export_errors(tiny_study, tmp_path):
    path = tiny_study(name="empty", n_trials=1)
    spec = load_study(path)
    open_study(spec)  # a study with no trial at all
    with pytest.raises(ConfigError, match=r"study 'empty' has no complete trial yet: nothing to export"):
        export(str(path))
    with pytest.raises(ConfigError, match=r"no study named 'other' in sqlite:///.*; studies there: empty"):
        export("other", storage=f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(ConfigError, match=r"no database at sqlite:///studies/ghost.db"):
        find_study("ghost")


def test_trials_table_expands_the_folds(tuned, tmp_path):
    path, study = tuned
    table = trials_table(str(path))
    assert len(table) == len(study.trials)
    done = table[table.state == "COMPLETE"]
    np.testing.assert_allclose(done[["fold_0_mse", "fold_1_mse"]].mean(axis=1), done["value"], rtol=1e-12)
    assert {"baseline_persistence_mse", "baseline_ridge_mse", "params_learning_rate"} <= set(table.columns)
    assert main(["trials", str(path), "-o", str(tmp_path / "t.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "t.csv")) == len(study.trials)


def test_report_is_one_html_file_with_the_plots_and_tables(tuned, tmp_path):
    path, study = tuned
    [config] = export(str(path), str(tmp_path / "best.toml"))
    train_final(load_study(config), tmp_path / "run")
    page = build_report(study, tmp_path / "run" / "metrics.json")
    assert page.count('class="plotly-graph-div"') >= 3 and page.count("plotly.js v") == 1
    for text in ("Optimization history", "Parallel coordinates", "Best trials, per fold",
                 "Baselines on the same folds", "Held-out test split"):
        assert text in page
    assert f"<td>{study.best_trial.number}</td>" in page
    png = (tmp_path / "run" / "forecast.png").read_bytes()  # what tuner train drew, embedded as it is
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and base64.b64encode(png).decode() in page
    assert "90% prediction intervals from" in page
    assert "Gradient flow back through time (best trials)" in page and "Gradient norm per epoch" in page


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_dashboard_serves_the_study_on_localhost(tuned):
    path, _ = tuned
    port = free_port()
    server = subprocess.Popen([BIN / "tuner", "dashboard", str(path), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline, body = time.time() + 60, None
        while time.time() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as response:
                    body = json.loads(response.read())
            except OSError:
                assert server.poll() is None, server.stderr.read()
                time.sleep(0.3)
        assert body is not None, "the dashboard did not answer within 60 s"
        assert "tiny" in [s["study_name"] for s in body["study_summaries"]]
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert f"http://127.0.0.1:{port}/" in server.stdout.read()


def test_storage_is_readable_by_plain_optuna(tuned, tmp_path):
    _, study = tuned
    loaded = optuna.load_study(study_name="tiny", storage=f"sqlite:///{tmp_path / 'tiny.db'}")
    assert loaded.best_value == study.best_value and "spec" in loaded.user_attrs


def test_training_into_a_folder_replaces_what_an_earlier_train_wrote(tuned, tmp_path, capsys):
    """A single model, then the top 3 into the same folder: no stale model.npz beside member-1..3; then a single
    model again: no stale members. A folder tuner did not write is left alone."""
    path, _ = tuned
    configs = export(str(path), str(tmp_path / "cfg.toml"), top=3)
    out = tmp_path / "run"
    assert main(["train", str(configs[0]), "-o", str(out)]) == 0
    assert (out / "model.npz").is_file()
    capsys.readouterr()
    assert main(["train", *map(str, configs), "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "replaced what an earlier tuner train wrote" in said and "model.npz" in said
    assert not list(out.glob("model*")) and {p.name for p in out.glob("member-*")} == {"member-1", "member-2",
                                                                                     "member-3"}
    assert main(["train", str(configs[1]), "-o", str(out)]) == 0
    assert (out / "model.npz").is_file() and not list(out.glob("member-*")) and not (out / "ensemble.json").exists()
    mine = tmp_path / "mine"  # not written by tuner train: nothing in it is removed
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    (mine / "model-notes.json").write_text('{"mine": true}')
    assert main(["train", str(configs[0]), "-o", str(mine)]) == 0
    assert (mine / "notes.txt").is_file() and (mine / "model-notes.json").is_file() and (mine / "model.npz").is_file()
