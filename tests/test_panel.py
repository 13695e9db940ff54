"""Acceptance: a panel of many series, tuned as one study and trained as one global model, scored per series."""

import json
import textwrap

import pandas as pd
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
    # the global model learned the seasonal shape: better than repeating the last value or the last season
    assert metrics["test"]["mase"] < metrics["baselines"]["persistence"]["mase"]
    assert metrics["test"]["mase"] < metrics["baselines"]["seasonal naive"]["mase"]
    predictions = pd.read_csv(tmp_path / "model" / "predictions.csv", dtype={"series": str})
    assert predictions.columns[0] == "series" and len(predictions) == 36
    assert (predictions["lower"] < predictions["predicted"]).all()
    assert (predictions["predicted"] < predictions["upper"]).all()
    assert (tmp_path / "model" / "forecast.png").stat().st_size > 10_000
