"""forecast/stats.py and tuner train --combine: statsforecast's models as the RNN's partners in a plain mean."""

import io
import json
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import cli
from statsforecast.models import AutoETS, AutoTheta
from test_panel import panel_study

from tuner.data.statistical import MIN_HISTORY
from tuner.data.statistical import forecasts as partner_forecasts
from tuner.errors import ConfigError
from tuner.forecast.stats import combine, partner_names


def small_panel(tmp_path):
    """Three series: the partners are refitted at every validation and test window, a fit each."""
    return panel_study(tmp_path, lengths=(48, 60, 54), trials=1)


def seasonal(n: int, seed: int = 0) -> np.ndarray:
    t = np.arange(n)
    return 50 + 0.3 * t + 8 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(seed).normal(0, 1, n)


def test_a_window_with_too_short_a_history_is_forecast_by_the_rnn_alone():
    rnn = np.array([[1.0, 2.0], [3.0, 4.0]])
    short = seasonal(MIN_HISTORY - 1)
    partners = partner_forecasts(("ets",), [short, seasonal(30)], horizon=2, season=0)
    assert np.isnan(partners["ets"][0]).all() and np.isfinite(partners["ets"][1]).all()
    mixed = combine(rnn, partners)
    np.testing.assert_array_equal(mixed[0], rnn[0])
    np.testing.assert_allclose(mixed[1], (rnn[1] + partners["ets"][1]) / 2)


def test_unknown_partners_and_a_missing_extra_are_one_line(monkeypatch):
    with pytest.raises(ConfigError, match=r"--combine takes auto or a comma list of ets, theta, arima, got "
                                          r"\['prophet'\]"):
        partner_names("ets,prophet")
    monkeypatch.setitem(sys.modules, "statsforecast", None)  # as if the extra were not installed
    with pytest.raises(ConfigError, match=r"pip install 'tuner\[stats\]'"):
        partner_names("ets")


def test_train_combine_on_a_panel_and_predict_steps_is_the_mean_of_the_rnn_and_partners(tmp_path, capsys):
    study = small_panel(tmp_path)
    code, out, err = cli(capsys, "train", study, "-o", tmp_path / "model", "--combine", "ets,theta")
    assert code == 0, err
    assert "gru + AutoETS + AutoTheta" in out and "gru alone" in out and "AutoTheta" in out
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert metrics["combined"]["with"] == ["AutoETS", "AutoTheta"] and "AutoETS" in metrics["baselines"]
    assert {"mase AutoETS", "smape AutoTheta"} <= set(pd.read_csv(tmp_path / "model" / "series.csv").columns)
    data = json.loads((tmp_path / "model" / "model.json").read_text())
    assert data["extra"]["combine"] == ["ets", "theta"]

    code, out, err = cli(capsys, "predict", tmp_path / "model", "--data", tmp_path / "panel.csv", "--steps", "6")
    assert code == 0, err
    combined = pd.read_csv(io.StringIO(out), dtype={"series": str})
    del data["extra"]["combine"]  # the same model without its partners
    (tmp_path / "model" / "model.json").write_text(json.dumps(data))
    code, out, err = cli(capsys, "predict", tmp_path / "model", "--data", tmp_path / "panel.csv", "--steps", "6")
    alone = pd.read_csv(io.StringIO(out), dtype={"series": str})
    panel = pd.read_csv(tmp_path / "panel.csv", dtype={"id": str})
    for key, rows in panel.groupby("id"):
        y = rows["y"].to_numpy(dtype=float)
        partners = [m(season_length=12).forecast(y=y, h=6)["mean"] for m in (AutoETS, AutoTheta)]
        rnn = alone.loc[alone["series"] == key, "predicted"].to_numpy()
        np.testing.assert_allclose(combined.loc[combined["series"] == key, "predicted"], np.mean([rnn, *partners],
                                                                                                  axis=0), rtol=1e-6)


def test_a_refitted_model_keeps_its_partners_and_a_tampered_list_is_one_line(tmp_path, capsys):
    study = small_panel(tmp_path)
    assert cli(capsys, "train", study, "-o", tmp_path / "model", "--combine", "ets", "--refit")[0] == 0
    meta = tmp_path / "model" / "model.json"
    data = json.loads(meta.read_text())
    assert data["extra"]["combine"] == ["ets"] and data["extra"]["trained_on"].startswith("every row")  # refitted
    data["extra"]["combine"] = ["ets", "os.system"]
    meta.write_text(json.dumps(data))
    code, _, err = cli(capsys, "predict", tmp_path / "model", "--data", tmp_path / "panel.csv", "--steps", "2")
    assert code != 0 and "statistical partners ['ets', 'os.system'] are not ones tuner knows" in err
    assert len(err.strip().splitlines()) == 1


def test_combine_on_independent_sequences_is_refused_before_training(tmp_path, capsys):
    code, _, err = cli(capsys, "train", "studies/adding.toml", "-o", tmp_path / "m", "--combine", "theta")
    assert code != 0 and "--combine forecasts one target of a time series" in err and "independent sequences" in err
    assert not (tmp_path / "m" / "model.npz").exists()


def test_an_ensemble_with_partners_scores_its_members_rnns_alone_beside_the_combination(tmp_path, capsys):
    study = small_panel(tmp_path)
    code, out, err = cli(capsys, "train", study, study, "-o", tmp_path / "two", "--combine", "theta")
    assert code == 0, err
    metrics = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert metrics["combined"]["with"] == ["AutoTheta"] and "ensemble alone" in out
    member = json.loads((tmp_path / "two" / "member-1" / "metrics.json").read_text())
    assert metrics["combined"]["rnn_alone_test"] == pytest.approx(member["combined"]["rnn_alone_test"])  # twins


def test_combine_auto_chooses_the_partners_that_score_best_out_of_fold(tmp_path, capsys):
    """auto scores every subset of ets and theta with the RNN on its out-of-fold windows and keeps the best: the
    choice recorded is the minimum of what it recorded, the saved model combines with exactly it, and the test
    split's forecast is the plain mean of the RNN and the chosen models."""
    study = small_panel(tmp_path)
    code, out, err = cli(capsys, "train", study, "-o", tmp_path / "model", "--combine", "auto")
    assert code == 0, err
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    auto = metrics["auto"]
    assert set(auto["out_of_fold"]) == {"", "AutoETS", "AutoTheta", "AutoETS+AutoTheta"}
    best = min(auto["out_of_fold"], key=auto["out_of_fold"].get)
    assert auto["chosen"] == [n for n in best.split("+") if n] and "--combine auto chose" in out
    saved = json.loads((tmp_path / "model" / "model.json").read_text())["extra"].get("combine", [])
    assert [{"ets": "AutoETS", "theta": "AutoTheta"}[n] for n in saved] == auto["chosen"]
    if auto["chosen"]:  # the combination against the RNN alone, on the same test split
        assert metrics["combined"]["with"] == auto["chosen"]
        assert metrics["test"] != metrics["combined"]["rnn_alone_test"]


def test_combine_auto_chooses_the_rnn_alone_when_the_partners_only_add_error(tmp_path, capsys, monkeypatch):
    """Partners that forecast badly out of fold are left out: the forecast is the RNN's, as without --combine."""
    from tuner.data import statistical

    monkeypatch.setattr(statistical, "_fit", lambda model, histories, horizon, season:
                        [np.full(horizon, 1e6) for _ in histories])  # absurd forecasts
    monkeypatch.setattr(statistical, "_cache", {})  # not the real ones another test fitted on the same panel
    study = small_panel(tmp_path)
    code, out, err = cli(capsys, "train", study, "-o", tmp_path / "model", "--combine", "auto")
    assert code == 0, err
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert metrics["auto"]["chosen"] == [] and "combined" not in metrics and "chose gru alone" in out
    assert "combine" not in json.loads((tmp_path / "model" / "model.json").read_text())["extra"]


def test_choose_scores_every_subset_and_prefers_the_smaller_on_a_tie(monkeypatch):
    """stats.choose on hand-made out-of-fold rows: each model forecasts a constant, so every subset's mean and
    MSE is known; the RNN with Theta and the RNN with both average to the truth: the smaller subset wins."""
    from tuner.data import statistical
    from tuner.data.windows import window_keys
    from tuner.forecast.stats import choose

    constant = {"AutoETS": 10.0, "AutoTheta": 14.0}
    monkeypatch.setattr(statistical, "_fit", lambda model, histories, horizon, season:
                        [np.full(horizon, constant[model]) for _ in histories])
    monkeypatch.setattr(statistical, "_cache", {})
    prepared = type("P", (), {"windows": type("W", (), {"original": seasonal(40)[:, None]})(), "mase_scale": None})()
    keys = window_keys(np.array([20, 25, 30]))
    actual = np.full((3, 1), 10.0)
    rnn = np.full((3, 1), 6.0)  # the RNN misses by 4; ETS is exact; Theta misses by 4 the other way
    picked, scored = choose(("ets", "theta"), (keys, rnn, actual), prepared, "mse", 12)
    assert scored == {"": 16.0, "AutoETS": 4.0, "AutoTheta": 0.0, "AutoETS+AutoTheta": 0.0}
    assert picked == ("theta",)


def test_steps_of_an_ensemble_whose_members_chose_different_partners_average_each_members_combination(
        tmp_path, capsys):
    """Members combine each with their own partners (as --combine auto may choose): with --steps, one member with
    AutoETS and one alone give the RNN's recursion r + (ETS - r) / 4, not the first member's choice for both."""
    study = small_panel(tmp_path)
    assert cli(capsys, "train", study, study, "-o", tmp_path / "two", "--combine", "ets")[0] == 0
    second = tmp_path / "two" / "member-2" / "model.json"
    data = json.loads(second.read_text())
    del data["extra"]["combine"]
    second.write_text(json.dumps(data))

    def steps() -> pd.DataFrame:
        code, out, err = cli(capsys, "predict", tmp_path / "two", "--data", tmp_path / "panel.csv", "--steps", "6")
        assert code == 0, err
        return pd.read_csv(io.StringIO(out), dtype={"series": str})

    mixed = steps()
    first = tmp_path / "two" / "member-1" / "model.json"
    data = json.loads(first.read_text())
    del data["extra"]["combine"]
    first.write_text(json.dumps(data))
    alone = steps()
    panel = pd.read_csv(tmp_path / "panel.csv", dtype={"id": str})
    for key, rows in panel.groupby("id"):
        ets = AutoETS(season_length=12).forecast(y=rows["y"].to_numpy(dtype=float), h=6)["mean"]
        rnn = alone.loc[alone["series"] == key, "predicted"].to_numpy()
        np.testing.assert_allclose(mixed.loc[mixed["series"] == key, "predicted"], rnn + (ets - rnn) / 4, rtol=1e-6)


def test_with_partners_the_intervals_come_from_the_combinations_own_out_of_fold_errors(tmp_path):
    """The intervals are centred on the combination, so they are drawn from its errors out of fold: the RNN's
    out-of-fold forecasts averaged with AutoETS refitted on each of those windows' histories, by hand here."""
    from tuner.app.train_final import train_final
    from tuner.config.studyfile import load_study
    from tuner.data.prepare import prepare
    from tuner.data.statistical import key_histories
    from tuner.data.windows import per_column

    spec = load_study(small_panel(tmp_path))
    plain = train_final(spec, tmp_path / "plain", picture=False, blend=False)
    mixed = train_final(spec, tmp_path / "mixed", picture=False, blend=False, combine=("ets",))
    keys, rnn, actual = plain.oof
    prepared = prepare(spec.data, spec.cv, spec.seed)
    ets = np.stack([AutoETS(season_length=12).forecast(y=h, h=1)["mean"]
                    for h in key_histories(prepared.windows, keys)])
    np.testing.assert_array_equal(mixed.oof[0], keys)
    np.testing.assert_allclose(mixed.oof[1], (rnn + ets) / 2, rtol=1e-9)
    scale = per_column(prepared.mase_scale, 1, keys["series"])
    np.testing.assert_allclose(mixed.intervals.residuals, (actual - (rnn + ets) / 2) / scale, rtol=1e-9)
    assert not np.allclose(mixed.intervals.residuals, plain.intervals.residuals)


def test_train_workers_fit_the_partners_once_in_the_parent_not_in_every_helper(tmp_path, monkeypatch):
    """tuner train --workers 2 --combine: the partners' forecasts at every validation and test window are fitted
    before the helpers fork, so no helper fits again (each would, alone, fit them all)."""
    import os

    from tuner.app.ensemble import train_ensemble
    from tuner.config.studyfile import load_study
    from tuner.data import statistical

    real, log = statistical._fit, tmp_path / "fits.log"

    def logged(model, histories, horizon, season):
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {model} {len(histories)}\n")
        return real(model, histories, horizon, season)

    monkeypatch.setattr(statistical, "_fit", logged)
    monkeypatch.setattr(statistical, "_cache", {})
    spec = load_study(small_panel(tmp_path))
    train_ensemble([spec, spec], tmp_path / "two", combine=("ets",), workers=2)
    fits = [line.split() for line in log.read_text().splitlines()]
    assert fits and {int(pid) for pid, _, _ in fits} == {os.getpid()}  # the parent alone
    assert (tmp_path / "two" / "member-2" / "model.json").is_file()


def test_beyond_the_budget_the_partners_are_refitted_at_a_regular_subset_the_same_for_every_member():
    from tuner.data.windows import window_keys
    from tuner.forecast.stats import OUT_OF_FOLD_FITS, sample

    keys = window_keys(np.tile(np.arange(100, 1100), 5), np.repeat(np.arange(5), 1000))  # 5,000 windows
    kept = keys[sample(keys)]
    assert len(kept) == 5 * 333 <= OUT_OF_FOLD_FITS and (kept["row"] % 3 == 0).all()  # a stride of 3: 333 a series
    shuffled = keys[np.random.default_rng(0).permutation(len(keys))]  # another member's order: the same windows
    assert set(shuffled[sample(shuffled)].tolist()) == set(kept.tolist())
    np.testing.assert_array_equal(sample(keys[:100]), np.arange(100))  # within the budget: every window
