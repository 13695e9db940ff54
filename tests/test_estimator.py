"""RNNRegressor as scikit-learn users meet it: scikit-learn's own estimator checks, pipelines, time-series
cross-validation, grid search, Optuna's search, saving without pickle."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from tuner.estimator import RNNRegressor

# small and quick, as the checks fit it some hundred times; every check passes (none is expected to fail)
CHECKED = RNNRegressor(cell="gru", hidden_units=8, epochs=40, learning_rate=0.02, batch_size=16, random_state=0)


@parametrize_with_checks([CHECKED, RNNRegressor(random_state=0)])  # and the defaults a user gets
def test_scikit_learn_estimator_checks(estimator, check, monkeypatch):
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")  # else scikit-learn skips its array-API check (NumPy namespace)
    check(estimator)


def lag_rows(series: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of `lags` past values (oldest first) and the next value: the layout RNNRegressor reads."""
    x = np.lib.stride_tricks.sliding_window_view(series[:-1], lags)
    return x.copy(), series[lags:].copy()


@pytest.fixture(scope="module")
def sunspots():
    from tuner.config.spec import DataSpec
    from tuner.data.datasets import DATASETS

    series = DATASETS["sunspots"](DataSpec())["sunspots"].to_numpy()
    return lag_rows(series, 12)


QUICK = dict(cell="gru", hidden_units=8, epochs=60, learning_rate=0.01, batch_size=16, random_state=0)


def test_in_a_pipeline_with_time_series_cross_validation_it_beats_the_mean(sunspots):
    from sklearn.model_selection import TimeSeriesSplit, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = sunspots
    pipe = make_pipeline(StandardScaler(), RNNRegressor(**QUICK))
    scores = cross_val_score(pipe, X, y, cv=TimeSeriesSplit(n_splits=3), scoring="r2")
    assert scores.shape == (3,) and np.all(scores > 0.5), scores  # R² of the mean is 0


def test_same_random_state_same_model_and_feature_names(sunspots):
    import pandas as pd

    X, y = sunspots
    frame = pd.DataFrame(X[:120], columns=[f"lag{i}" for i in range(12, 0, -1)])
    a = RNNRegressor(**QUICK).fit(frame, y[:120])
    b = RNNRegressor(**QUICK).fit(frame, y[:120])
    np.testing.assert_array_equal(a.predict(frame), b.predict(frame))
    assert list(a.feature_names_in_) == list(frame.columns) and a.n_features_in_ == 12
    c = RNNRegressor(**{**QUICK, "random_state": 1}).fit(frame, y[:120])
    assert not np.allclose(a.predict(frame), c.predict(frame))


@pytest.mark.filterwarnings("ignore:`optuna.terminator`:FutureWarning")  # optuna-integration's, not ours
@pytest.mark.filterwarnings("ignore:OptunaSearchCV is experimental")
def test_grid_search_and_optuna_search(sunspots):
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from optuna_integration import OptunaSearchCV
    from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

    X, y = sunspots
    grid = GridSearchCV(RNNRegressor(**{**QUICK, "epochs": 30}), {"hidden_units": [4, 8], "cell": ["gru", "rnn"]},
                        cv=TimeSeriesSplit(n_splits=2)).fit(X, y)
    assert set(grid.best_params_) == {"hidden_units", "cell"} and grid.best_score_ > 0.3
    search = OptunaSearchCV(RNNRegressor(**{**QUICK, "epochs": 30}),
                            {"learning_rate": FloatDistribution(1e-3, 3e-2, log=True),
                             "cell": CategoricalDistribution(["gru", "lstm"])},
                            cv=TimeSeriesSplit(n_splits=2), n_trials=3, random_state=0)
    search.fit(X, y)
    assert len(search.trials_) == 3 and search.best_score_ > 0.3 and search.predict(X[:5]).shape == (5,)


def test_sequences_from_rows_and_3d_inputs_and_several_outputs():
    rng = np.random.default_rng(0)
    x3 = rng.standard_normal((150, 6, 2))
    y2 = np.stack([x3[:, -1, 0] + x3[:, -2, 1], x3[:, 0, 1]], axis=1)
    est = RNNRegressor(**{**QUICK, "epochs": 80, "hidden_units": 16}).fit(x3, y2)
    assert est.predict(x3).shape == (150, 2) and est.score(x3, y2) > 0.8
    rows = x3.reshape(150, 12)  # the same data as rows: 6 steps of 2 features each
    by_rows = RNNRegressor(**{**QUICK, "epochs": 80, "hidden_units": 16, "n_steps": 6}).fit(rows, y2)
    np.testing.assert_allclose(by_rows.predict(rows), est.predict(x3), rtol=1e-9)
    with pytest.raises(ValueError, match="n_steps must be a positive integer that divides the 12 features"):
        RNNRegressor(n_steps=5).fit(rows, y2)
    with pytest.raises(ValueError, match="cell must be one of"):
        RNNRegressor(cell="transformer").fit(rows, y2)


def test_early_stopping_on_the_latest_rows_and_warm_start(sunspots):
    X, y = sunspots
    est = RNNRegressor(**{**QUICK, "epochs": 300, "patience": 5, "learning_rate": 0.03}).fit(X, y)
    assert est.n_epochs_ < 300 and len(est.validation_scores_) == est.n_epochs_
    assert est.best_epoch_ == int(np.argmin(est.validation_scores_)) + 1
    warm = RNNRegressor(**{**QUICK, "epochs": 5, "warm_start": True}).fit(X, y)
    first = warm.loss_curve_[0]
    warm.fit(X, y)  # continues from the fitted weights: starts where the last fit ended, not from scratch
    assert warm.loss_curve_[0] < first


def test_saved_and_loaded_without_pickle(sunspots, tmp_path):
    X, y = sunspots
    est = RNNRegressor(**{**QUICK, "ensemble": 3, "highway": 4}).fit(X[:150], y[:150])
    est.save(tmp_path / "est")
    assert sorted(p.name for p in (tmp_path / "est").iterdir()) == [
        "estimator.json", "member-0.json", "member-0.npz", "member-1.json", "member-1.npz", "member-2.json",
        "member-2.npz"]
    back = RNNRegressor.load(tmp_path / "est")
    np.testing.assert_array_equal(back.predict(X[150:]), est.predict(X[150:]))
    assert back.get_params() == est.get_params()
    (tmp_path / "est" / "estimator.json").write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="is not a saved RNNRegressor"):
        RNNRegressor.load(tmp_path / "est")


def test_export_writes_the_parameters_of_the_same_estimator(tmp_path, capsys):
    """tuner export --sklearn: RNNRegressor(**params) has the trial's settings and seed."""
    import json
    import textwrap

    from conftest import TINY, cli

    from tuner.estimator import from_config

    path = tmp_path / "tiny.toml"
    path.write_text(textwrap.dedent(TINY.format(name="tiny", n_trials=2, seed=3, epochs=3, startup=2, warmup=2,
                                                search="learning_rate = [0.01, 0.02]\nhidden_units = [5, 6]")))
    assert cli(capsys, "tune", path, "-q")[0] == 0
    code, out, _ = cli(capsys, "export", path, "-o", tmp_path / "params.json", "--sklearn")
    params = json.loads((tmp_path / "params.json").read_text())
    est = RNNRegressor(**params)
    cli(capsys, "export", path, "-o", tmp_path / "best.toml")
    best = json.loads(cli(capsys, "trials", path, "--json")[1])
    winner = min(best, key=lambda t: t["value"])
    assert code == 0 and "RNNRegressor(**json.load(open(" in out
    assert est.hidden_units == winner["params_hidden_units"] and est.learning_rate == winner["params_learning_rate"]
    assert est.random_state == 3 and est.cell == "gru" and est.n_steps is None
    assert from_config(tmp_path / "best.toml").get_params() == est.get_params()
    code, _, err = cli(capsys, "export", path, "-o", tmp_path / "p.toml", "--sklearn")
    assert code == 2 and "--sklearn writes the estimator's parameters as JSON" in err


def test_sizes_and_magnitudes_are_refused_before_anything_is_allocated():
    """The command line's bounds hold for the estimator: a size that cannot fit is one error naming the
    estimate (a MemoryError subclass, before any array exists), and values whose squares overflow are refused
    with where they are, rather than predicted as inf without a word."""
    X = np.random.default_rng(0).normal(size=(30, 5))
    y = X.sum(axis=1)
    with pytest.raises(MemoryError, match=r"hidden_units=1000000000 needs about .* GiB, more than the"):
        RNNRegressor(hidden_units=10**9).fit(X, y)
    with pytest.raises(ValueError, match=r"y holds .*e\+30\d \(sample \d+\), whose square overflows float64"):
        RNNRegressor(epochs=1).fit(X, y * 1e306)
    with pytest.raises(ValueError, match=r"X holds .*e\+(19|20) \(sample \d+\), whose square overflows float32"):
        RNNRegressor(epochs=1, dtype="float32").fit(X * 1e20, y)
    with pytest.raises(ValueError, match=r"X holds .*e\+1(59|60) \(sample \d+\), whose square overflows float64"):
        RNNRegressor(epochs=1, dtype="float64").fit(X * 1e160, y)


def test_the_defaults_are_a_studys_train_defaults_but_for_the_ones_named_with_their_reasons():
    import dataclasses

    from tuner.config.spec import TrainSpec
    from tuner.estimator import OWN_DEFAULTS

    params = RNNRegressor().get_params()
    for f in dataclasses.fields(TrainSpec):
        assert params[f.name] == OWN_DEFAULTS.get(f.name, f.default), f.name
    assert set(OWN_DEFAULTS) == {"patience", "dtype", "learning_rate"}
