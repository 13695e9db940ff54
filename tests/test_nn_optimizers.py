import numpy as np
import pytest

from tuner.nn import OPTIMIZERS, clip_by_global_norm, make_optimizer

P0 = np.array([[1.0, -2.0]])
G1 = np.array([[0.5, 1.0]])
G2 = np.array([[-1.0, 0.25]])


def two_steps(name: str, **settings) -> tuple[np.ndarray, np.ndarray]:
    opt = make_optimizer(name, **settings)
    params = {"w": P0.copy()}
    opt.step(params, {"w": G1})
    after_one = params["w"].copy()
    opt.step(params, {"w": G2})
    return after_one, params["w"]


def test_sgd():
    one, two = two_steps("sgd", lr=0.1)
    np.testing.assert_allclose(one, [[0.95, -2.1]])
    np.testing.assert_allclose(two, [[1.05, -2.125]])


def test_momentum_and_nesterov():
    one, two = two_steps("momentum", lr=0.1, momentum=0.9)
    # v1 = g1 = [.5, 1];  v2 = .9 v1 + g2 = [-.55, 1.15]
    np.testing.assert_allclose(one, [[0.95, -2.1]])
    np.testing.assert_allclose(two, [[1.005, -2.215]])
    one, two = two_steps("momentum", lr=0.1, momentum=0.9, nesterov=True)
    # p1 = p0 - .1 (g1 + .9 v1) = [1 - .095, -2 - .19];  p2 = p1 - .1 (g2 + .9 v2) = p1 - .1 [-1.495, 1.285]
    np.testing.assert_allclose(one, [[0.905, -2.19]])
    np.testing.assert_allclose(two, [[1.0545, -2.3185]])


def test_adagrad():
    one, two = two_steps("adagrad", lr=0.1, eps=0.0)
    # s1 = [.25, 1] -> step .1 * [1, 1];  s2 = [1.25, 1.0625] -> step .1 * [-1/sqrt(1.25), .25/sqrt(1.0625)]
    np.testing.assert_allclose(one, [[0.9, -2.1]])
    np.testing.assert_allclose(two, [[0.9 + 0.1 / np.sqrt(1.25), -2.1 - 0.025 / np.sqrt(1.0625)]])


def test_rmsprop():
    one, two = two_steps("rmsprop", lr=0.01, rho=0.9, eps=0.0)
    # s1 = .1 g1^2 = [.025, .1];  s2 = .9 s1 + .1 g2^2 = [.1225, .09625]
    s1, s2 = np.array([0.025, 0.1]), np.array([0.1225, 0.09625])
    expected_one = P0 - 0.01 * G1 / np.sqrt(s1)
    np.testing.assert_allclose(one, expected_one)
    np.testing.assert_allclose(two, expected_one - 0.01 * G2 / np.sqrt(s2))
    np.testing.assert_allclose(one, [[1 - 0.01 * 0.5 / np.sqrt(0.025), -2 - 0.01 / np.sqrt(0.1)]])


def test_adam():
    one, two = two_steps("adam", lr=0.1, beta1=0.9, beta2=0.999, eps=0.0)
    # step 1: m_hat = g1, v_hat = g1^2 -> the update is lr * sign(g1)
    np.testing.assert_allclose(one, [[0.9, -2.1]])
    # step 2: m = .09 g1 + .1 g2 = [-.055, .115]; v = .000999 g1^2 + .001 g2^2 = [.00124975, .0010615]
    m_hat = np.array([-0.055, 0.115]) / (1 - 0.81)
    v_hat = np.array([0.00124975, 0.0010615]) / (1 - 0.999**2)
    np.testing.assert_allclose(two, one - 0.1 * m_hat / np.sqrt(v_hat), rtol=1e-12)


def test_weight_decay_applies_to_weights_not_biases():
    opt = make_optimizer("sgd", lr=0.1, weight_decay=0.5)
    params = {"W": np.ones((2, 2)), "b": np.ones(2)}
    opt.step(params, {"W": np.zeros((2, 2)), "b": np.zeros(2)})
    np.testing.assert_allclose(params["W"], 0.95)
    np.testing.assert_allclose(params["b"], 1.0)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_descends_a_quadratic(name):
    opt = make_optimizer(name, lr=0.5 if name == "adagrad" else 0.05)  # adagrad's steps shrink as 1/sqrt(t)
    params = {"w": np.array([[3.0, -4.0]])}
    for _ in range(300):
        opt.step(params, {"w": 2 * params["w"]})
    assert np.abs(params["w"]).max() < 0.5


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_float32_state_stays_float32(name):
    opt = make_optimizer(name)
    params = {"w": np.ones((2, 3), dtype=np.float32)}
    opt.step(params, {"w": np.full((2, 3), 0.5, dtype=np.float32)})
    assert params["w"].dtype == np.float32
    assert all(b.dtype == np.float32 for b in opt.state.get("w", {}).values())


def test_clip_by_global_norm():
    grads = {"a": np.array([3.0]), "b": np.array([[4.0]])}
    assert clip_by_global_norm(grads, 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose([grads["a"][0], grads["b"][0, 0]], [0.6, 0.8])
    grads = {"a": np.array([0.3])}
    clip_by_global_norm(grads, 1.0)
    assert grads["a"][0] == 0.3  # below the threshold nothing changes


def test_unknown_optimizer_lists_valid_names():
    with pytest.raises(ValueError,
                       match=r"unknown optimizer 'adamw'; choose one of: adagrad, adam, momentum, rmsprop, sgd"):
        make_optimizer("adamw")


@pytest.mark.parametrize(
    "name, settings, match",
    [
        ("adam", {"momentum": 0.9}, r"optimizer 'adam' has no setting 'momentum'; its settings are: lr, beta1"),
        ("sgd", {"lr": 0}, r"learning_rate must be a positive number, got learning_rate=0"),
        ("sgd", {"lr": -1.0}, r"learning_rate must be a positive number"),
        ("momentum", {"momentum": 1.0}, r"momentum must be in \[0, 1\), got momentum=1.0"),
        ("adam", {"beta2": 1.5}, r"beta2 must be in \[0, 1\)"),
        ("sgd", {"weight_decay": -0.1}, r"weight_decay must be a number >= 0"),
    ],
)
def test_bad_settings(name, settings, match):
    with pytest.raises(ValueError, match=match):
        make_optimizer(name, **settings)
