"""data/baselines.py: the forecasts every trial must beat, exact on the series they model."""

import numpy as np
import pytest
from conftest import frame, prepared

from tuner import SequenceModel, fit, make_optimizer
from tuner.config.spec import CVSpec, DataSpec
from tuner.data.prepare import prepare
from tuner.data.windows import make_windows


def test_persistence_is_exact_on_a_constant_step_ramp():
    ramp = frame(5 + 2.0 * np.arange(60))
    w = make_windows(ramp, ("y",), window=4, horizon=1)
    b = prepared(w).split(np.arange(30), np.arange(40, 56)).baselines()
    assert b["persistence"]["mse"] == pytest.approx(4.0)  # off by exactly one step of 2
    assert b["ridge"]["mse"] < 1e-6  # a line is linear in its lags


def test_ridge_is_exact_on_a_linear_ar2_process():
    y = np.zeros(200)
    y[:2] = [1.0, 0.5]
    for t in range(2, 200):
        y[t] = 1.2 * y[t - 1] - 0.5 * y[t - 2] + 0.3
    w = make_windows(frame(y), ("y",), window=2, horizon=1)
    b = prepared(w).split(np.arange(150), np.arange(150, 198)).baselines()
    assert b["ridge"]["rmse"] < 1e-4 * np.std(y)
    assert b["mean"]["mse"] > b["ridge"]["mse"]


@pytest.mark.parametrize("horizon", [1, 3, 5])
def test_seasonal_naive_is_the_value_one_season_back_that_the_window_saw(horizon):
    """A season of 4 repeated exactly: seasonal naive is exact at every step ahead, also past one season
    (step 5 looks back two seasons); persistence is not."""
    series = np.tile([3.0, 7.0, 1.0, 9.0], 20) + np.repeat(np.arange(20) * 0.0, 4)
    w = make_windows(frame(series), ("y",), window=6, horizon=horizon)
    idx = np.arange(30, 40)
    np.testing.assert_array_equal(w.seasonal_naive(idx, 4, horizon), w.y_orig[idx])
    b = prepared(w).split(np.arange(30), idx).baselines(season=4)
    assert b["seasonal naive"]["mse"] == 0 and b["persistence"]["mse"] > 1
    assert "seasonal naive" not in prepared(w).split(np.arange(30), idx).baselines()  # no season, no baseline
    # the value used is one the window saw: row t_last + step - season * ceil(step / season)
    trend = make_windows(frame(np.arange(100.0)), ("y",), window=5, horizon=horizon)
    got = trend.seasonal_naive(np.array([50]), 4, horizon)[0]
    last = trend.t_last[50]
    assert list(got) == [last + s - 4 * -(-s // 4) for s in range(1, horizon + 1)]
    assert got.max() <= last


def test_ridge_on_a_single_window_warns_nothing_and_predicts_its_target():
    """Leave-one-out is undefined on one sample: RidgeCV would divide 0 by 0 and warn on every fold."""
    import warnings

    from tuner.data.baselines import ridge, ridge_fit

    x, y = np.arange(12.0).reshape(1, 12, 1), np.array([[5.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(ridge(x, y, x), [[5.0]], atol=1e-3)
        coef, intercept = ridge_fit(x.reshape(1, -1), y)
    assert coef.shape == (1, 12) and np.isfinite(coef).all() and np.isfinite(intercept).all()


def test_rnn_beats_persistence_on_a_trending_series():
    # airline passengers: rising level, growing seasonal swing; differencing makes it learnable
    spec = DataSpec(dataset="airline", window=13, log=True, difference=1, seasonal_difference=12,
                    test_fraction=1 / 3)
    split = prepare(spec, CVSpec(folds=2)).test()
    model = SequenceModel("gru", 1, 16, 1, seed=0)
    fit(model, make_optimizer("adam", lr=0.01), split.x_train, split.y_train, epochs=60, batch_size=16, seed=0)
    rnn = split.score(model.predict(split.x_eval))
    persistence = split.baselines()["persistence"]
    assert rnn["rmse"] < 0.6 * persistence["rmse"], (rnn, persistence)
