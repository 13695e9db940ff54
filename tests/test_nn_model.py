import itertools

import numpy as np
import pytest

from tuner.nn import CELLS, SequenceModel

HIDDEN_ACTS = ["tanh", "relu", "sigmoid", "leaky_relu"]


def numerical_grads(model: SequenceModel, x, y, eps: float = 1e-5) -> dict[str, np.ndarray]:
    """Central differences of model.loss for every parameter entry."""
    out = {}
    for name, p in model.params.items():
        g = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + eps
            up = model.loss(x, y)
            p[i] = old - eps
            down = model.loss(x, y)
            p[i] = old
            g[i] = (up - down) / (2 * eps)
        out[name] = g
    return out


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-30))


@pytest.mark.parametrize(
    "cell, activation, many_to_many, layers",
    list(itertools.product(CELLS, HIDDEN_ACTS, [False, True], [1, 2])),
)
def test_gradients_match_central_differences(cell, activation, many_to_many, layers, rng):
    model = SequenceModel(cell, 2, 3, 2, activation=activation, num_layers=layers, seed=7)
    for p in model.params.values():  # move off the special zero biases, where relu sits on its kink
        p += 0.1 * rng.standard_normal(p.shape)
    x = rng.standard_normal((3, 5, 2))
    y = rng.standard_normal((3, 5, 2) if many_to_many else (3, 2))
    loss, grads = model.loss_and_grads(x, y)
    assert loss == pytest.approx(model.loss(x, y), rel=1e-12)
    assert grads.keys() == model.params.keys()
    numeric = numerical_grads(model, x, y)
    errors = {k: rel_error(grads[k], numeric[k]) for k in grads}
    assert max(errors.values()) < 1e-6, errors
    for k in grads:  # and entry by entry, with an absolute floor for entries near zero
        np.testing.assert_allclose(grads[k], numeric[k], rtol=1e-5, atol=1e-8, err_msg=k)


def test_output_activation_gradient(rng):
    model = SequenceModel("gru", 1, 4, 1, output_activation="sigmoid", seed=3)
    x, y = rng.standard_normal((4, 6, 1)), rng.uniform(size=(4, 1))
    _, grads = model.loss_and_grads(x, y)
    numeric = numerical_grads(model, x, y)
    assert max(rel_error(grads[k], numeric[k]) for k in grads) < 1e-6


@pytest.mark.parametrize("cell", list(CELLS))
def test_float32_matches_float64(cell, rng):
    x, y = rng.standard_normal((8, 10, 2)), rng.standard_normal((8, 1))
    m64 = SequenceModel(cell, 2, 16, 1, seed=5)
    m32 = SequenceModel(cell, 2, 16, 1, seed=5, dtype="float32")
    l64, g64 = m64.loss_and_grads(x, y)
    l32, g32 = m32.loss_and_grads(x, y)
    assert all(g.dtype == np.float32 for g in g32.values())
    assert m32.predict(x).dtype == np.float32
    assert l32 == pytest.approx(l64, rel=1e-5)
    for k in g64:
        np.testing.assert_allclose(g32[k], g64[k], rtol=1e-3, atol=1e-5)


def test_initialisation(rng):
    m = SequenceModel("lstm", 3, 8, 1, num_layers=2, seed=0)
    U = m.params["U0"]
    for k in range(4):  # each recurrent gate block is orthogonal
        block = U[k * 8 : (k + 1) * 8]
        np.testing.assert_allclose(block @ block.T, np.eye(8), atol=1e-12)
    np.testing.assert_array_equal(m.params["b0"][16:24], 1.0)  # forget gate (blocks o, i, f, g)
    assert np.abs(m.params["W0"]).max() <= np.sqrt(6 / (3 + 32))
    assert m.n_params == sum(p.size for p in m.params.values())


def test_same_seed_same_weights_different_seed_different():
    a, b, c = (SequenceModel("gru", 2, 5, 1, seed=s) for s in (1, 1, 2))
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.params["W0"], c.params["W0"])


def test_predict_shapes(rng):
    m = SequenceModel("rnn", 2, 4, 3)
    x = rng.standard_normal((5, 7, 2))
    assert m.predict(x).shape == (5, 3)
    seq = m.predict(x, every_step=True)
    assert seq.shape == (5, 7, 3)
    np.testing.assert_allclose(seq[:, -1], m.predict(x))
    # a prefix of a sequence gives the same predictions: the model is causal
    np.testing.assert_allclose(m.predict(x[:, :4]), seq[:, 3])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"cell": "transformer"}, r"unknown cell 'transformer'; choose one of: gru, lstm, rnn"),
        ({"activation": "swish"}, r"unknown activation 'swish'; choose one of: .*tanh"),
        ({"hidden_size": 0}, r"hidden_size must be a positive integer, got hidden_size=0"),
        ({"input_size": 1.5}, r"input_size must be a positive integer"),
        ({"num_layers": 5}, r"num_layers must be at most 4"),
        ({"dtype": "float16"}, r"dtype must be one of float32, float64"),
    ],
)
def test_bad_arguments_raise_clear_value_errors(kwargs, match):
    args = {"cell": "rnn", "input_size": 1, "hidden_size": 4, "output_size": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        SequenceModel(**args)


def test_bad_shapes_raise_clear_value_errors(rng):
    m = SequenceModel("gru", 2, 4, 1)
    with pytest.raises(ValueError, match=r"x must have rank 3 \(batch, time, features\), got shape \(5, 2\)"):
        m.predict(rng.standard_normal((5, 2)))
    with pytest.raises(ValueError, match=r"x has 3 features but the model has input_size=2"):
        m.predict(rng.standard_normal((5, 4, 3)))
    with pytest.raises(ValueError, match=r"y must be .* to match x, got shape \(4, 1\)"):
        m.loss_and_grads(rng.standard_normal((5, 4, 2)), rng.standard_normal((4, 1)))
    with pytest.raises(ValueError, match=r"got shape \(5, 3, 1\)"):
        m.loss_and_grads(rng.standard_normal((5, 4, 2)), rng.standard_normal((5, 3, 1)))


@pytest.mark.parametrize("cell, layers, output_activation", [("rnn", 1, "identity"), ("lstm", 2, "identity"),
                                                              ("gru", 1, "sigmoid")])
def test_highway_gradients_match_central_differences(cell, layers, output_activation, rng):
    model = SequenceModel(cell, 2, 3, 2, num_layers=layers, seed=5, output_activation=output_activation, highway=3)
    assert model.params["A"].shape == (2, 6) and not model.params["A"].any()  # starts as the plain RNN
    for p in model.params.values():
        p += 0.1 * rng.standard_normal(p.shape)
    x = rng.standard_normal((4, 5, 2))
    y = rng.uniform(size=(4, 2))
    _, grads = model.loss_and_grads(x, y)
    numeric = numerical_grads(model, x, y)
    assert max(rel_error(grads[k], numeric[k]) for k in grads) < 1e-6
    assert np.abs(grads["A"]).max() > 1e-3  # the highway is in the graph


def test_highway_sees_exactly_the_last_inputs_oldest_first(rng):
    """With the recurrence's head at zero the output is A z: z is the last L steps, oldest first."""
    model = SequenceModel("gru", 2, 3, 1, highway=2, seed=0)
    model.params["V"][:] = 0
    model.params["A"][:] = [[1.0, 10.0, 100.0, 1000.0]]  # x_{T-1}: features 0, 1; x_T: features 0, 1
    x = rng.standard_normal((3, 6, 2))
    expected = x[:, 4, 0] + 10 * x[:, 4, 1] + 100 * x[:, 5, 0] + 1000 * x[:, 5, 1]
    np.testing.assert_allclose(model.predict(x)[:, 0], expected, rtol=1e-12)
    # without a highway the same seed gives the same weights: no random draw moved
    plain = SequenceModel("gru", 2, 3, 1, seed=0)
    assert all(np.array_equal(plain.params[k], SequenceModel("gru", 2, 3, 1, seed=0, highway=2).params[k])
               for k in plain.params)


def test_highway_limits_and_saved_models(tmp_path, rng):
    model = SequenceModel("lstm", 1, 4, 1, highway=5, seed=1)
    model.params["A"][:] = rng.standard_normal(model.params["A"].shape)
    with pytest.raises(ValueError, match="x has 3 steps, fewer than the model's highway=5"):
        model.predict(rng.standard_normal((2, 3, 1)))
    with pytest.raises(ValueError, match="predicts after the last step only"):
        model.loss(rng.standard_normal((2, 6, 1)), rng.standard_normal((2, 6, 1)))
    with pytest.raises(ValueError, match="highway must be an integer from 0"):
        SequenceModel("lstm", 1, 4, 1, highway=-1)
    model.save(tmp_path / "m")
    back = SequenceModel.load(tmp_path / "m")
    x = rng.standard_normal((3, 7, 1))
    assert back.highway == 5 and np.array_equal(back.predict(x), model.predict(x))


def test_a_large_batch_is_predicted_in_chunks_with_the_same_result(monkeypatch):
    import tuner.nn.model as model_module
    from tuner.nn.stack import Stack

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 7, 2))
    models = [SequenceModel("lstm", 2, 5, 3, seed=s, dtype="float64") for s in (0, 1)]
    whole = [m.predict(x) for m in models]
    stacked = Stack(models).stack_predict(np.stack([x, x]))
    monkeypatch.setattr(model_module, "PREDICT_BYTES", 64 * 1024)  # a few dozen windows a pass
    assert models[0].predict_rows(7) < 300
    for m, w in zip(models, whole, strict=True):
        np.testing.assert_allclose(m.predict(x), w, rtol=0, atol=1e-12)
    np.testing.assert_allclose(Stack(models).stack_predict(np.stack([x, x])), stacked, rtol=0, atol=1e-12)
