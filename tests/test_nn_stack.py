"""A stack trains K models in one pass; each comes out as the same model trained alone by fit()."""

import numpy as np
import pytest

from tuner.errors import ConfigError, DivergenceError
from tuner.nn import CELLS, SequenceModel, make_optimizer
from tuner.nn.stack import Stack
from tuner.train.trainer import fit, fit_stack


def central_differences(stack, x, y, counts, name, k, index, eps=1e-6):
    p = stack.params[name]
    old = p[k][index]
    p[k][index] = old + eps
    up = stack.stack_loss_and_grads(x, y, counts)[0][k]
    p[k][index] = old - eps
    down = stack.stack_loss_and_grads(x, y, counts)[0][k]
    p[k][index] = old
    return (up - down) / (2 * eps)


@pytest.mark.parametrize("cell, every_step, highway", [(c, e, 0) for c in CELLS for e in (False, True)]
                         + [("gru", False, 3), ("lstm", False, 4)])
def test_stack_gradients_match_central_differences(cell, every_step, highway, rng):
    stack = Stack([SequenceModel(cell, 2, 4, 2, num_layers=2, seed=s, dtype="float64", highway=highway)
                   for s in (1, 2, 3)])
    if highway:
        stack.params["A"][:] = rng.standard_normal(stack.params["A"].shape)
    x = rng.standard_normal((3, 5, 4, 2))
    y = rng.standard_normal((3, 5, 4, 2) if every_step else (3, 5, 2))
    counts = np.array([5, 2, 0])
    losses, grads = stack.stack_loss_and_grads(x, y, counts)
    assert losses[2] == 0 and all(not g[2].any() for g in grads.values())  # a masked model: nothing
    for name in grads:
        for k in (0, 1):
            for index in [tuple(rng.integers(0, s) for s in grads[name].shape[1:]) for _ in range(3)]:
                numeric = central_differences(stack, x, y, counts, name, k, index)
                assert grads[name][k][index] == pytest.approx(numeric, rel=1e-5, abs=1e-8), (name, k, index)


@pytest.mark.parametrize("cell, optimizer, patience, highway", [("gru", "adam", 3, 0), ("lstm", "momentum", None, 0),
                                                                 ("rnn", "rmsprop", 2, 0), ("gru", "adagrad", None, 0),
                                                                 ("lstm", "adam", 2, 4)])
def test_a_model_trained_in_a_stack_is_the_model_trained_alone(cell, optimizer, patience, highway, rng):
    """Different data sizes (ragged last batches, epochs with fewer batches), own seeds, early stopping,
    clipping and weight decay: per-epoch losses and final weights as a stack of one (fit) gives them, to 1e-9."""
    sizes, seeds, batch = [37, 20, 53], [11, 12, 13], 8
    data = [(rng.standard_normal((n, 6, 2)), rng.standard_normal((n, 1))) for n in sizes]
    evals = [(rng.standard_normal((9, 6, 2)), rng.standard_normal((9, 1))) for _ in sizes]
    settings = {"lr": 0.05, "weight_decay": 1e-3}

    def scorer(k):
        return lambda pred: float(np.mean((pred - evals[k][1]) ** 2))

    alone = []
    for k, seed in enumerate(seeds):
        model = SequenceModel(cell, 2, 5, 1, seed=seed, dtype="float64", highway=highway)
        result = fit(model, make_optimizer(optimizer, **settings), *data[k], epochs=12, batch_size=batch, seed=seed,
                     clip_norm=0.5, patience=patience, x_val=evals[k][0], y_val=evals[k][1])
        alone.append((model, result))
    stack = Stack([SequenceModel(cell, 2, 5, 1, seed=s, dtype="float64", highway=highway) for s in seeds])
    seen = []
    results = fit_stack(stack, make_optimizer(optimizer, **settings), data, epochs=12, batch_size=batch, seeds=seeds,
                        clip_norm=0.5, patience=patience, validate=[(evals[k][0], scorer(k)) for k in range(3)],
                        on_epoch=lambda epoch, results, ran: seen.append(ran.copy()))
    for k, (model, result) in enumerate(alone):
        got = results[k]
        assert got.epochs_run == result.epochs_run and got.best_epoch == result.best_epoch
        np.testing.assert_allclose(got.train_loss, result.train_loss, rtol=1e-9)
        np.testing.assert_allclose(got.val_loss, result.val_loss, rtol=1e-9)
        np.testing.assert_allclose(got.grad_norm_median, result.grad_norm_median, rtol=1e-9)  # diagnostics too
        np.testing.assert_allclose(got.grad_norm_max, result.grad_norm_max, rtol=1e-9)
        assert got.clipped == result.clipped and len(got.clipped) == got.epochs_run
        for name, p in model.params.items():
            np.testing.assert_allclose(stack.params[name][k], p, rtol=1e-9, atol=1e-12)
        assert [bool(r[k]) for r in seen] == [e < result.epochs_run for e in range(len(seen))]
    if patience:
        assert any(r.stopped_early for r in results)  # the case the masks are for


def test_a_diverging_model_is_named():
    stack = Stack([SequenceModel("rnn", 1, 4, 1, activation="relu", seed=s) for s in (1, 2)])
    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((16, 5, 1)), rng.standard_normal((16, 1))) for _ in range(2)]
    data[1] = (data[1][0] * 1e6, data[1][1] * 1e6)
    with pytest.raises(DivergenceError) as caught:
        fit_stack(stack, make_optimizer("sgd", lr=10.0), data, epochs=5, batch_size=4, seeds=[1, 2])
    assert caught.value.model == 1


def test_a_stack_refuses_models_of_different_shapes():
    with pytest.raises(ConfigError, match="share one architecture"):
        Stack([SequenceModel("gru", 1, 4, 1), SequenceModel("gru", 1, 5, 1)])


def test_a_stack_is_not_a_model_and_its_members_are(tmp_path):
    """A stack has a model (whose params carry the model axis); a model's own methods are not offered on K
    models (predict, save), while each member predicts, saves and loads as any model does."""
    stack = Stack([SequenceModel("gru", 1, 4, 1, seed=s) for s in (1, 2)])
    assert not isinstance(stack, SequenceModel)
    assert not hasattr(stack, "predict") and not hasattr(stack, "save")
    x = np.random.default_rng(0).standard_normal((3, 5, 1))
    member = stack.member(1)
    np.testing.assert_allclose(stack.stack_predict(np.stack([x, x]))[1], member.predict(x), rtol=1e-6)
    member.save(tmp_path / "m")
    np.testing.assert_allclose(SequenceModel.load(tmp_path / "m").predict(x), member.predict(x), rtol=1e-6)
