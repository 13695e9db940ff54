"""app/tables.py: tuner train's table, from metrics.json alone: the rows, the score the study judges by, the best."""

from tuner.app.tables import comparison_table, epochs_warning, score_rows


def metrics(**extra) -> dict:
    scores = {"rmse": 2.0, "mae": 1.5, "smape": 9.0, "mase": 0.8}
    return {"test": scores, "n_test": 18, "n_train": 100, "metric": "mase", "series": 3,
            "model": {"cell": "gru", "epochs": 20, "configured_epochs": 50},
            "baselines": {"seasonal naive": {"rmse": 1.0, "mae": 1.2, "smape": 11.0, "mase": 1.1},
                          "ridge": {"rmse": 3.0, "mae": 2.0, "smape": 10.0, "mase": 0.9}}, **extra}


def test_the_best_is_judged_by_the_studys_metric_not_by_rmse():
    table = comparison_table(metrics(), "gru").splitlines()
    assert table[0] == "held-out test split: 18 windows; trained 20 epochs on 100 windows"
    assert table[1].split() == ["model", "RMSE", "MAE", "sMAPE", "MASE"]
    assert table[2].startswith("gru (tuned)") and table[2].endswith("<- best")  # lowest MASE, not lowest RMSE
    assert not any(line.endswith("<- best") for line in table[3:])
    assert table[-1] == "best baseline: ridge (MASE 0.9); the RNN's MASE is 11.1% lower: the RNN is better"


def test_with_partners_the_rnn_alone_is_a_row_and_the_combination_is_said():
    combined = {"with": ["AutoETS", "AutoTheta"], "rnn_alone_test": {"rmse": 2.5, "mae": 2.0, "smape": 12.0,
                                                                       "mase": 1.0}}
    rows, shown, judged = score_rows(metrics(combined=combined), "gru")
    assert [r[0] for r in rows] == ["gru + AutoETS + AutoTheta", "gru alone", "seasonal naive", "ridge"]
    assert judged == "mase" and shown == ["rmse", "mae", "smape", "mase"]
    assert "the plain mean of the gru's and AutoETS and AutoTheta's" in comparison_table(metrics(combined=combined),
                                                                                         "gru")


def test_a_metric_a_row_lacks_is_not_shown_and_mse_is_judged_as_rmse():
    m = metrics(metric="mse")
    m["baselines"]["ridge"] = {"rmse": 3.0, "mae": 2.0}  # a row without the scale-free scores
    rows, shown, judged = score_rows(m, "gru")
    assert shown == ["rmse", "mae"] and judged == "rmse"


def test_a_final_recipe_of_fewer_epochs_than_three_is_said_unless_the_config_asked_for_fewer():
    assert "trains 1 epoch only" in epochs_warning(1, 50, "the final model")[0]
    assert epochs_warning(1, 1, "the final model") == [] and epochs_warning(3, 50, "the final model") == []
