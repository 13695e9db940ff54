"""Gradient-flow diagnostics are exact: dL/dh_t as recorded by the engine's backward pass against central
differences of a plain step-by-step forward in which h_t is perturbed."""

import numpy as np
import pytest

from tuner.nn import ACTIVATIONS, SequenceModel


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def step(cell, p, act, x, h, c):
    """One step of the textbook cell (gate orders as cells.py documents them): x (B, D), h and c (B, H)."""
    H = h.shape[1]
    if cell == "rnn":
        return act(x @ p["W0"].T + h @ p["U0"].T + p["b0"]), c
    if cell == "lstm":
        a = x @ p["W0"].T + h @ p["U0"].T + p["b0"]
        o, i, f, g = sigmoid(a[:, :H]), sigmoid(a[:, H : 2 * H]), sigmoid(a[:, 2 * H : 3 * H]), act(a[:, 3 * H :])
        c = f * c + i * g
        return o * act(c), c
    W, U, b = p["W0"], p["U0"], p["b0"]
    z = sigmoid(x @ W[:H].T + h @ U[:H].T + b[:H])
    r = sigmoid(x @ W[H : 2 * H].T + h @ U[H : 2 * H].T + b[H : 2 * H])
    n = act(x @ W[2 * H :].T + b[2 * H :] + r * (h @ U[2 * H :].T + p["bh0"]))
    return (1 - z) * n + z * h, c


def loss_from(cell, p, act, x, y, t, h, c):
    """The loss when the state after step t is (h, c): the rest of the sequence, then the head."""
    for s in range(t + 1, x.shape[1]):
        h, c = step(cell, p, act, x[:, s], h, c)
    return float(np.mean((h @ p["V"].T + p["c"] - y) ** 2))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_recorded_dl_dh_matches_central_differences(cell, rng):
    model = SequenceModel(cell, 2, 3, 1, seed=4)
    for p in model.params.values():
        p += 0.2 * rng.standard_normal(p.shape)
    x, y = rng.standard_normal((4, 6, 2)), rng.standard_normal((4, 1))
    act = ACTIVATIONS["tanh"][0]
    [flow] = model.gradient_flow(x, y)  # (batch, time, hidden)
    assert flow.shape == (4, 6, 3)
    states, h, c = [], np.zeros((4, 3)), np.zeros((4, 3))
    for t in range(6):
        h, c = step(cell, model.params, act, x[:, t], h, c)
        states.append((h, c))
    assert loss_from(cell, model.params, act, x, y, 5, *states[5]) == pytest.approx(model.loss(x, y), rel=1e-12)
    eps = 1e-6
    for t in range(6):
        h, c = states[t]
        for b in range(4):
            for j in range(3):
                up, down = h.copy(), h.copy()
                up[b, j] += eps
                down[b, j] -= eps
                numeric = (loss_from(cell, model.params, act, x, y, t, up, c)
                           - loss_from(cell, model.params, act, x, y, t, down, c)) / (2 * eps)
                assert flow[b, t, j] == pytest.approx(numeric, rel=1e-5, abs=1e-9), (t, b, j)


def test_flow_of_every_layer_and_the_loss_is_unchanged(rng):
    model = SequenceModel("gru", 2, 4, 1, num_layers=2, seed=1)
    x, y = rng.standard_normal((5, 7, 2)), rng.standard_normal((5, 1))
    before = model.loss_and_grads(x, y)
    flows = model.gradient_flow(x, y)
    assert [f.shape for f in flows] == [(5, 7, 4), (5, 7, 4)]
    after = model.loss_and_grads(x, y)  # recording leaves nothing behind
    assert before[0] == after[0] and all(np.array_equal(before[1][k], after[1][k]) for k in before[1])
    assert np.abs(flows[1][:, -1]).sum() > 0 and np.abs(flows[0][:, 0]).sum() > 0


ADDING = """
[study]
seed = 0
[data]
dataset = "adding"
n_points = 1000
length = 100
[cv]
folds = 2
[train]
hidden_units = 16
learning_rate = 0.005
batch_size = 32
dtype = "float64"
"""


def test_diagnose_shows_the_vanilla_rnn_vanishing_on_the_adding_problem(tmp_path, capsys):
    """T = 100, five seeded epochs each: the tanh RNN's gradient at step 1 is orders of magnitude below LSTM's
    and GRU's (which learn to carry it), and the PNG is written."""
    from conftest import cli

    (tmp_path / "adding.toml").write_text(ADDING)
    code, out, _ = cli(capsys, "diagnose", tmp_path / "adding.toml", "-o", tmp_path / "flow.png")
    assert code == 0 and (tmp_path / "flow.png").read_bytes()[:4] == b"\x89PNG"
    ratios = {line.split()[0]: float(line.split()[1]) for line in out.splitlines()[1:4]}
    assert set(ratios) == {"rnn", "lstm", "gru"}
    assert ratios["rnn"] < 1e-4 and ratios["rnn"] < 1e-3 * min(ratios["lstm"], ratios["gru"]), ratios
    code, _, err = cli(capsys, "diagnose", tmp_path / "adding.toml", "--cells", "rnn,transformer")
    assert code == 2 and "--cells must name cells among" in err


def test_trials_carry_the_diagnostics_and_the_summary_says_what_they_show(tmp_path, capsys):
    """A vanilla RNN on 100-step sequences: its trials record the norms, the flow and the ratio; the summary
    says the gradients vanished and that updates were clipped, with what to try."""
    import json

    from conftest import cli

    study = ADDING.replace("[study]\n", '[study]\nname = "vanish"\nn_trials = 2\n').replace(
        "n_points = 1000", "n_points = 200").replace("learning_rate = 0.005", 'learning_rate = 0.005\ncell = "rnn"'
                                                   '\nepochs = 3')
    (tmp_path / "vanish.toml").write_text(study)
    code, out, _ = cli(capsys, "tune", tmp_path / "vanish.toml", "-q")
    assert code == 0
    assert "gradients vanished in the best trial (1) (rnn)" in out and "try lstm or gru, or a shorter window" in out
    assert "updates were clipped" in out and "try a lower learning rate or a larger clip_norm" in out
    [trial, _] = json.loads(cli(capsys, "trials", tmp_path / "vanish.toml", "--json")[1])
    assert trial["user_attrs_vanishing_ratio"] < 1e-3 and trial["user_attrs_clipped_fraction"] > 0.5
    assert "gradients: vanished in 2 and clipped most of the time in 2 of 2 complete trials" in out
    flow = json.loads(trial["user_attrs_grad_flow"])
    assert len(flow) == 1 and len(flow[0]) == 100 and flow[0][0] < flow[0][-1]
    assert len(json.loads(trial["user_attrs_grad_norm_median"])) == 3  # one per epoch
    cli(capsys, "export", tmp_path / "vanish.toml", "-o", tmp_path / "best.toml")
    code, out, _ = cli(capsys, "train", tmp_path / "best.toml", "-o", tmp_path / "run")
    assert code == 0 and "gradients vanished in the final model (rnn)" in out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["gradients"]["vanishing_ratio"] < 1e-3 and len(metrics["gradients"]["grad_flow"][0]) == 100


def test_vanishing_advice_names_only_cells_other_than_the_models_own():
    from tuner.evaluate.cv import gradient_warnings

    for cell, advice in (("rnn", "try lstm or gru,"), ("gru", "try lstm,"), ("lstm", "try gru,")):
        [line] = gradient_warnings({"vanishing_ratio": 1e-6}, "member-2", cell)
        assert f"member-2 ({cell})" in line and advice in line


def test_diagnostics_switch_off_without_changing_the_scores(tiny_study):
    """cross_validate(diagnose=False): the same folds and scores, no norms or flow recorded (what
    bench/diagnostics.py times against)."""
    from tuner.config.studyfile import load_study
    from tuner.data.prepare import prepare
    from tuner.evaluate.cv import cross_validate

    spec = load_study(tiny_study(search=""))
    prepared = prepare(spec.data, spec.cv, spec.seed)
    on, off = (cross_validate(spec, prepared, 3, diagnose=d) for d in (True, False))
    assert on.fold_mse == off.fold_mse and on.diagnostics and not off.diagnostics
