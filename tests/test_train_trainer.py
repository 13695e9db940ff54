import numpy as np
import pytest

from tuner import DivergenceError, SequenceModel, fit, make_optimizer
from tuner.data.synthetic import adding_problem, noisy_sines


def windows(series: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.lib.stride_tricks.sliding_window_view(series[:-1], width)[..., None]
    return x, series[width:, None]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_cells_solve_the_adding_problem(cell):
    rng = np.random.default_rng(0)
    x, y = adding_problem(2000, 30, rng)
    x_val, y_val = adding_problem(500, 30, rng)
    baseline = float(np.mean((y_val - 1.0) ** 2))  # always predicting 1
    assert 0.15 < baseline < 0.18
    model = SequenceModel(cell, 2, 32, 1, seed=0, dtype="float32")
    result = fit(model, make_optimizer("adam", lr=0.01), x, y, epochs=12, batch_size=64, seed=0, clip_norm=1.0,
                 x_val=x_val, y_val=y_val)
    assert result.val_loss[-1] < 0.02, result.val_loss
    assert model.loss(x_val, y_val) < 0.02


def test_vanilla_rnn_forecasts_a_noisy_sine_better_than_persistence():
    series = noisy_sines(1200, np.random.default_rng(1))
    x, y = windows(series, 20)
    x_tr, y_tr, x_val, y_val = x[:900], y[:900], x[900:], y[900:]
    persistence = float(np.mean((x_val[:, -1] - y_val) ** 2))
    model = SequenceModel("rnn", 1, 24, 1, seed=0)
    fit(model, make_optimizer("adam", lr=0.01), x_tr, y_tr, epochs=15, batch_size=32, seed=0, clip_norm=1.0)
    rnn = model.loss(x_val, y_val)
    assert rnn < 0.5 * persistence, (rnn, persistence)


def test_many_to_many_training_reduces_the_loss():
    series = noisy_sines(400, np.random.default_rng(2))
    x = np.stack([series[i : i + 30] for i in range(0, 360, 3)])[..., None]
    y = np.stack([series[i + 1 : i + 31] for i in range(0, 360, 3)])[..., None]
    model = SequenceModel("gru", 1, 16, 1, seed=0)
    result = fit(model, make_optimizer("rmsprop", lr=0.005), x, y, epochs=20, batch_size=16, seed=0)
    assert result.train_loss[-1] < 0.2 * result.train_loss[0]


def test_same_seed_same_losses_bit_for_bit():
    rng = np.random.default_rng(3)
    x, y = adding_problem(300, 10, rng)
    runs = []
    for _ in range(2):
        model = SequenceModel("lstm", 2, 8, 1, seed=5)
        result = fit(model, make_optimizer("adam", lr=0.01), x, y, epochs=3, batch_size=32, seed=11,
                     x_val=x[:50], y_val=y[:50])
        runs.append((result.train_loss, result.val_loss, model.params))
    assert runs[0][0] == runs[1][0] and runs[0][1] == runs[1][1]
    assert all(np.array_equal(runs[0][2][k], runs[1][2][k]) for k in runs[0][2])
    other = SequenceModel("lstm", 2, 8, 1, seed=5)
    assert fit(other, make_optimizer("adam", lr=0.01), x, y, epochs=3, batch_size=32, seed=12).train_loss != runs[0][0]


def test_early_stopping_restores_the_best_weights():
    rng = np.random.default_rng(4)
    x, y = adding_problem(400, 10, rng)
    # validation targets are the negated training relation: the better the fit, the worse the validation
    x_val, y_val = x[:100], -y[:100]
    snapshots = {}
    model = SequenceModel("gru", 2, 8, 1, seed=0)

    def on_epoch(epoch, train_loss, val_loss):
        snapshots[epoch] = {k: v.copy() for k, v in model.params.items()}

    result = fit(model, make_optimizer("adam", lr=0.02), x, y, epochs=30, batch_size=32, seed=0, x_val=x_val,
                 y_val=y_val, patience=3, on_epoch=on_epoch)
    assert result.stopped_early and result.epochs_run < 30
    assert result.epochs_run == result.best_epoch + 3
    assert result.best_val_loss == min(result.val_loss)
    best = snapshots[result.best_epoch]
    assert all(np.array_equal(model.params[k], best[k]) for k in best)
    assert model.loss(x_val, y_val) == pytest.approx(result.best_val_loss)


def test_on_epoch_sees_every_epoch_and_can_stop_training():
    rng = np.random.default_rng(5)
    x, y = adding_problem(100, 5, rng)
    seen = []

    class Stop(Exception):
        pass

    def on_epoch(epoch, train_loss, val_loss):
        seen.append((epoch, train_loss, val_loss))
        if epoch == 3:
            raise Stop

    with pytest.raises(Stop):
        fit(SequenceModel("rnn", 2, 4, 1), make_optimizer("sgd"), x, y, epochs=10, batch_size=10, x_val=x, y_val=y,
            on_epoch=on_epoch)
    assert [s[0] for s in seen] == [1, 2, 3]
    assert all(np.isfinite(s[1]) and np.isfinite(s[2]) for s in seen)


def test_exploding_training_raises_divergence_error_with_epoch():
    rng = np.random.default_rng(6)
    x, y = adding_problem(200, 20, rng)
    model = SequenceModel("rnn", 2, 16, 1, activation="relu", seed=0)
    pattern = r"training diverged at epoch \d+: training loss (became|exploded)"
    with pytest.raises(DivergenceError, match=pattern) as err:
        fit(model, make_optimizer("sgd", lr=50.0), x, y, epochs=20, batch_size=20)
    assert err.value.epoch >= 1


def test_nan_in_data_raises_divergence_error():
    rng = np.random.default_rng(7)
    x, y = adding_problem(50, 5, rng)
    y[3] = np.nan
    with pytest.raises(DivergenceError, match=r"at epoch 1: training loss became nan"):
        fit(SequenceModel("gru", 2, 4, 1), make_optimizer("adam"), x, y, epochs=2, batch_size=50)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"epochs": 0}, r"epochs must be a positive integer, got epochs=0"),
        ({"batch_size": 0}, r"batch_size must be a positive integer, got batch_size=0"),
        ({"patience": 0}, r"patience must be a positive integer"),
        ({"clip_norm": -1.0}, r"clip_norm must be positive"),
    ],
)
def test_bad_fit_arguments(kwargs, match):
    x, y = adding_problem(10, 4, np.random.default_rng(0))
    args = {"epochs": 1, "batch_size": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        fit(SequenceModel("rnn", 2, 4, 1), make_optimizer("sgd"), x, y, **args)


def test_x_y_length_mismatch():
    x, y = adding_problem(10, 4, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"x and y must hold the same number of samples, got 10 and 9"):
        fit(SequenceModel("rnn", 2, 4, 1), make_optimizer("sgd"), x, y[:9], epochs=1, batch_size=4)


def test_a_highway_model_starts_at_ridge_and_learns_what_ridge_leaves():
    """new_model starts a model with a highway at ridge regression on its training data (the head at zero):
    before training it predicts what RidgeCV predicts; trained, it beats ridge on a series whose next value
    is a linear AR term plus a nonlinear one."""
    from sklearn.linear_model import RidgeCV

    from tuner.config.spec import CVSpec, DataSpec, TrainSpec
    from tuner.data.prepare import prepare
    from tuner.train.factory import new_model, train_model

    rng = np.random.default_rng(3)
    z = np.zeros(900)
    for t in range(2, len(z)):  # AR(2) plus a term ridge cannot represent
        z[t] = 0.5 * z[t - 1] - 0.2 * z[t - 2] + np.sin(2.5 * z[t - 1]) + 0.1 * rng.normal()
    z = (z - z.mean()) / z.std()
    x, y = windows(z, 6)
    x_tr, y_tr, x_te, y_te = x[:700], y[:700], x[700:], y[700:]
    prepared = prepare(DataSpec(dataset="sine", n_points=200, window=6), CVSpec(folds=2))
    cfg = TrainSpec(cell="gru", hidden_units=8, highway=4, learning_rate=0.01, batch_size=32, epochs=40,
                    patience=0, dtype="float64")
    ridge = RidgeCV(alphas=np.logspace(-6, 3, 19)).fit(x_tr[:, -4:, 0], y_tr)
    model = new_model(cfg, prepared, seed=0, x=x_tr, y=y_tr)
    np.testing.assert_allclose(model.predict(x_te)[:, 0], ridge.predict(x_te[:, -4:, 0]).ravel(), rtol=1e-9, atol=1e-12)
    trained, _ = train_model(cfg, prepared, 0, x_tr, y_tr, epochs=40)
    ridge_mse = float(np.mean((ridge.predict(x_te[:, -4:, 0]).reshape(-1, 1) - y_te) ** 2))
    assert trained.loss(x_te, y_te) < 0.5 * ridge_mse, (trained.loss(x_te, y_te), ridge_mse)


def test_a_divergence_says_what_the_numbers_show():
    """An untrained model whose loss is already huge diverges because of its architecture (an unbounded
    activation compounding over the steps), not its learning rate: the hint says so. A model that starts
    sane and then explodes gets the learning-rate hint."""
    from tuner.train.watch import divergence_hint

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 30, 1)), rng.standard_normal((64, 1))
    model = SequenceModel("rnn", 1, 8, 1, activation="identity", seed=0, dtype="float32")
    model.params["U0"] *= 3.0  # every step multiplies the state by about 3: 3^30 at the end
    assert model.loss(x[:8], y[:8]) > 1e3
    with pytest.raises(DivergenceError, match="untrained model's outputs already blow up.*try tanh"):
        fit(model, make_optimizer("sgd", lr=0.01), x, y, epochs=3, batch_size=8, seed=0)
    assert "lower learning rate" in divergence_hint(1.2) and "try tanh" in divergence_hint(2.6e7)
    assert "try tanh" in divergence_hint(float("nan"))
    sane = SequenceModel("rnn", 1, 8, 1, activation="relu", seed=0)
    with pytest.raises(DivergenceError, match="lower learning rate"):
        fit(sane, make_optimizer("sgd", lr=50.0), x, y, epochs=5, batch_size=8, seed=0)


def test_a_model_started_at_the_ridge_solution_is_not_diverged_by_a_rise_from_near_zero():
    """A highway model starts at ridge's fit: on a noiseless AR(2) series its untrained loss is ~1e-10, and the
    first updates raise it a little. That is training, not divergence (the reference is the data's own scale,
    the loss of predicting zero); a loss far above that scale still is."""
    from tuner.config.spec import CVSpec, DataSpec, TrainSpec
    from tuner.data.prepare import prepare
    from tuner.train.factory import new_model, train_members, train_model

    t = np.arange(400)
    z = np.sin(0.3 * t) + 0.5 * np.sin(0.7 * t)  # two sines: exactly an AR(4), so ridge fits it almost perfectly
    z = (z - z.mean()) / z.std()
    x, y = windows(z, 6)
    prepared = prepare(DataSpec(dataset="sine", n_points=200, window=6), CVSpec(folds=2))
    cfg = TrainSpec(cell="gru", hidden_units=8, highway=6, learning_rate=0.01, batch_size=16, epochs=5,
                    patience=0, dtype="float64")
    start = new_model(cfg, prepared, seed=0, x=x, y=y).loss(x, y)
    assert start < 1e-6  # starts (almost) at zero loss
    trained, result = train_model(cfg, prepared, 0, x, y, epochs=5)  # one model (fit)
    assert max(result.train_loss) > 100 * start  # what the old rule, relative to `start` alone, called diverged
    assert trained.loss(x, y) < 1e-2
    members, results = train_members(cfg, prepared, [0, 1], x, y, epochs=5)  # a stack (fit_stack)
    assert all(len(r.train_loss) == 5 for r in results)
    from tuner.train.watch import exploded

    assert exploded(6e-10, 1e-12, 1.0) is None
    assert "over 100 times the loss of predicting zero (1)" in exploded(150.0, 1e-12, 1.0)
    assert "over 100 times the untrained model's loss (3)" in exploded(400.0, 3.0, 1.0)
