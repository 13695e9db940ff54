"""Acceptance: a panel of many series, tuned as one study and trained as one global model, scored per series."""

import io
import json
import textwrap

import numpy as np
import pandas as pd
import pytest
from conftest import cli
from test_data_panel import long_table


def panel_study(tmp_path, lengths=(60, 72, 84, 66, 90, 78), metric="mase", trials=3):
    data = tmp_path / "panel.csv"
    long_table(list(lengths), seed=1, trend=0.5).to_csv(data, index=False)  # seasonal naive lags a trend
    path = tmp_path / "panel.toml"
    path.write_text(textwrap.dedent(f"""
        [study]
        name = "panel"
        n_trials = {trials}
        metric = "{metric}"
        [data]
        dataset = "csv"
        path = "{data}"
        series = "id"
        time = "month"
        target = "y"
        window = 12
        test_size = 6
        season = 12
        [cv]
        folds = 2
        gap = 0
        [train]
        cell = "gru"
        hidden_units = 8
        epochs = 30
        learning_rate = 0.01
        [search]
        batch_size = [16, 32]
    """))
    return path


def test_a_panel_tunes_trains_and_scores_every_series(tmp_path, capsys):
    study = panel_study(tmp_path)
    code, out, err = cli(capsys, "tune", study, "-q")
    assert code == 0, err
    assert "validation MASE" in out and "averaged over series, scale-free" in out
    config = tmp_path / "best.toml"
    assert cli(capsys, "export", study, "-o", config)[0] == 0
    assert 'metric = "mase"' in config.read_text()
    code, out, err = cli(capsys, "train", config, "-o", tmp_path / "model")
    assert code == 0, err
    assert "in each of 6 series; sMAPE and MASE are means over series" in out
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    per_series = pd.read_csv(tmp_path / "model" / "series.csv", dtype={"series": str})
    assert per_series["series"].tolist() == [f"s{k}" for k in range(6)] and (per_series["values"] == 6).all()
    assert abs(metrics["test"]["mase"] - per_series["mase"].mean()) < 1e-9  # equal windows a series: the same mean
    for name in ("persistence", "seasonal naive", "ridge"):  # each baseline per series, on the same values
        assert abs(metrics["baselines"][name]["mase"] - per_series[f"mase {name}"].mean()) < 1e-9
    # the global model learned the seasonal shape: better than repeating the last value or the last season
    assert metrics["test"]["mase"] < metrics["baselines"]["persistence"]["mase"]
    assert metrics["test"]["mase"] < metrics["baselines"]["seasonal naive"]["mase"]
    predictions = pd.read_csv(tmp_path / "model" / "predictions.csv", dtype={"series": str})
    assert predictions.columns[0] == "series" and len(predictions) == 36
    assert (predictions["lower"] < predictions["predicted"]).all()
    assert (predictions["predicted"] < predictions["upper"]).all()
    assert (tmp_path / "model" / "forecast.png").stat().st_size > 10_000


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A panel study tuned, exported and trained once for the tests below: (folder, data file, study file)."""
    import subprocess
    import sys

    tmp = tmp_path_factory.mktemp("panel")
    study = panel_study(tmp, trials=2)
    run = [sys.executable, "-m", "tuner"]
    for args in (["tune", study, "-q"], ["export", study, "-o", tmp / "best.toml"],
                 ["train", tmp / "best.toml", "-o", tmp / "model", "-q"]):
        subprocess.run(run + [str(a) for a in args], check=True, capture_output=True)
    return tmp / "model", tmp / "panel.csv", study


def test_predict_forecasts_every_series_as_train_did(trained, capsys):
    folder, data, _ = trained
    code, out, err = cli(capsys, "predict", folder, "--data", data)
    assert code == 0, err
    forecast = pd.read_csv(io.StringIO(out), dtype={"series": str})
    test = pd.read_csv(folder / "predictions.csv", dtype={"series": str})
    both = test.merge(forecast, on=["series", "time"], suffixes=("", "_again"))
    assert len(both) == len(test)  # every test window of every series forecast again
    np.testing.assert_allclose(both["predicted_again"], both["predicted"], rtol=1e-6)
    np.testing.assert_allclose(both["upper_again"], both["upper"], rtol=1e-6)


def test_predict_steps_continue_each_series_at_its_own_end(trained, capsys):
    folder, data, _ = trained
    code, out, err = cli(capsys, "predict", folder, "--data", data, "--steps", 4, "--paths", 50)
    assert code == 0, err
    ahead = pd.read_csv(io.StringIO(out), dtype={"series": str})
    table = pd.read_csv(data, dtype={"id": str})
    assert sorted(ahead["series"].unique()) == sorted(table["id"].unique())
    for key, rows in ahead.groupby("series"):
        last = pd.Period(table[table["id"] == key]["month"].max(), "M")
        assert rows["time"].tolist() == [str(last + k) for k in range(1, 5)]  # each series past its own end
        assert (rows["lower"] <= rows["predicted"]).all() and (rows["predicted"] <= rows["upper"]).all()


def test_series_the_model_never_saw_are_left_out_or_refused(trained, tmp_path, capsys):
    folder, data, _ = trained
    table = pd.read_csv(data, dtype={"id": str})
    extra = table[table["id"] == "s0"].assign(id="new")
    mixed = tmp_path / "mixed.csv"
    pd.concat([table, extra]).to_csv(mixed, index=False)
    code, out, err = cli(capsys, "predict", folder, "--data", mixed)
    assert code == 0 and "left out 1 series the model was not trained on (first: 'new')" in err
    assert "new" not in pd.read_csv(io.StringIO(out), dtype={"series": str})["series"].tolist()
    alone = tmp_path / "new.csv"
    extra.to_csv(alone, index=False)
    code, _, err = cli(capsys, "predict", folder, "--data", alone)
    assert code != 0 and len(err.strip().splitlines()) == 1 and "none of the data's 1 series" in err


def test_refit_trains_on_every_row_and_keeps_the_test_scores(trained, tmp_path, capsys):
    folder, data, study = trained
    config = study.parent / "best.toml"
    code, out, err = cli(capsys, "train", config, "-o", tmp_path / "refit", "--refit")
    assert code == 0, err
    assert "refitted on every row, the test split included" in out
    before = json.loads((folder / "metrics.json").read_text())
    after = json.loads((tmp_path / "refit" / "metrics.json").read_text())
    assert after["test"] == before["test"]  # scored by the model that did not see the test split
    assert after["refit"]["windows"] > before["n_train"]
    saved = json.loads((tmp_path / "refit" / "model.json").read_text())["extra"]["trained_on"]
    assert saved == "every row, the test split included"
    assert json.loads((folder / "model.json").read_text())["extra"]["trained_on"] == "the rows before the test split"
    code, out, _ = cli(capsys, "predict", tmp_path / "refit", "--data", data, "--steps", 2, "--paths", 0)
    refit_ahead = pd.read_csv(io.StringIO(out))
    code, out, _ = cli(capsys, "predict", folder, "--data", data, "--steps", 2, "--paths", 0)
    assert not np.allclose(refit_ahead["predicted"], pd.read_csv(io.StringIO(out))["predicted"])  # it learned more


def test_the_dry_run_counts_the_series(tmp_path, capsys):
    code, out, err = cli(capsys, "tune", panel_study(tmp_path), "--dry-run")
    assert code == 0, err
    assert "series: 6 series, 450 rows" in out and not list(tmp_path.glob("*.db"))


def test_the_report_speaks_of_the_study_metric(trained, tmp_path, capsys):
    folder, _, study = trained
    code, _, err = cli(capsys, "report", study, "-o", tmp_path / "r.html", "--metrics", folder / "metrics.json")
    assert code == 0, err
    page = (tmp_path / "r.html").read_text()
    assert "Values are mean validation MASE over cross-validation folds (scale-free" in page
    assert "<th>sMAPE</th><th>MASE</th>" in page and "in each of 6 series" in page


def test_the_score_from_the_origin_is_predict_steps_from_the_data_before_the_test_split(trained, tmp_path, capsys):
    folder, data, _ = trained
    metrics = json.loads((folder / "metrics.json").read_text())
    origin = metrics["origin"]
    assert origin["steps"] == 6
    table = pd.read_csv(data, dtype={"id": str}).sort_values(["id", "month"])
    before = table.groupby("id").head(-6)  # every series without its test split
    before.to_csv(tmp_path / "before.csv", index=False)
    code, out, err = cli(capsys, "predict", folder, "--data", tmp_path / "before.csv", "--steps", 6, "--paths", 0)
    assert code == 0, err
    ahead = pd.read_csv(io.StringIO(out), dtype={"series": str}).sort_values(["series", "step"])
    actual = table.groupby("id").tail(6)["y"].to_numpy()
    forecast = ahead["predicted"].to_numpy()
    smape = np.mean(200 * np.abs(forecast - actual) / (np.abs(actual) + np.abs(forecast)))
    assert origin["model"]["smape"] == pytest.approx(smape, rel=1e-9)
    assert origin["seasonal naive"]["smape"] > origin["model"]["smape"]  # the global model learned the season
