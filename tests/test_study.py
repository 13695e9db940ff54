"""A study end to end: tuner tune on a tiny study, read back by Optuna's own CLI; resuming, pruning, divergence."""

import json
import subprocess

import numpy as np
import optuna
import pytest
from conftest import BIN

from tuner.config.studyfile import load_study
from tuner.tuning.runner import open_study, run


@pytest.mark.slow
def test_tiny_study_end_to_end_read_back_by_optunas_own_cli(tiny_study, tmp_path):
    path = tiny_study(n_trials=4)
    done = subprocess.run([BIN / "tuner", "tune", str(path), "-q"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "best: trial" in done.stdout and "baseline persistence" in done.stdout
    db = tmp_path / "tiny.db"
    assert db.exists()
    url = f"sqlite:///{db}"
    studies = subprocess.run([BIN / "optuna", "studies", "--storage", url, "-f", "json"], capture_output=True,
                             text=True, timeout=120)
    assert studies.returncode == 0, studies.stderr
    listed = json.loads(studies.stdout)
    assert [s["name"] for s in listed] == ["tiny"] and listed[0]["n_trials"] == 4
    best = subprocess.run([BIN / "optuna", "best-trial", "--study-name", "tiny", "--storage", url, "-f", "json"],
                          capture_output=True, text=True, timeout=120)
    assert best.returncode == 0, best.stderr
    trial = json.loads(best.stdout)
    stored = optuna.load_study(study_name="tiny", storage=url).best_trial
    assert trial["number"] == stored.number and trial["value"] == pytest.approx(stored.value)
    assert set(trial["params"]) <= {"learning_rate", "batch_size", "optimizer", "activation"}


def test_user_attributes_are_present_and_consistent(tiny_study, tmp_path):
    spec = load_study(tiny_study(n_trials=3))
    study = run(spec, progress=False).study
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert complete
    for t in complete:
        a = t.user_attrs
        assert len(a["fold_mse"]) == 2 and np.mean(a["fold_mse"]) == pytest.approx(t.value, rel=1e-12)
        assert a["mse_mean"] == pytest.approx(t.value)
        assert a["mse_sem"] == pytest.approx(np.std(a["fold_mse"], ddof=1) / np.sqrt(2))
        assert len(a["epochs"]) == 2 and all(1 <= e <= 6 for e in a["epochs"])
        assert a["n_params"] > 0 and a["train_seconds"] > 0
        assert set(a["baselines"]) == {"persistence", "mean", "ridge"}
        assert all(len(v) == 2 for v in a["baselines"].values())


def test_pruner_stops_a_hopeless_trial_early(tiny_study):
    path = tiny_study(n_trials=4, epochs=10, startup=3, warmup=4, search="learning_rate = [0.02, 1e-7]")
    spec = load_study(path)
    study = open_study(spec)
    for lr in (0.02, 0.02, 0.02, 1e-7):  # three good trials, then a learning rate far too small
        study.enqueue_trial({"learning_rate": lr})
    study = run(spec, progress=False).study
    hopeless = study.trials[3]
    assert hopeless.params["learning_rate"] == 1e-7
    assert hopeless.state == optuna.trial.TrialState.PRUNED
    assert hopeless.user_attrs["pruned_at"]["epoch"] < 10  # stopped before its last epoch
    assert hopeless.user_attrs["epochs_trained"] < 2 * 10  # both folds' models stopped with it
    assert max(hopeless.intermediate_values) < 10  # step = epoch
    assert study.best_trial.number != 3  # only COMPLETE trials can be best


def test_every_trial_reports_the_mean_over_folds_at_the_same_steps(tiny_study):
    path = tiny_study(n_trials=2, epochs=8, search="epochs = [4, 8]")
    text = path.read_text().replace("[study]", "[study]\nreport_every = 1\npruner = \"none\"")
    path.write_text(text.replace("patience = 3", "patience = 0"))
    spec = load_study(path)
    study = open_study(spec)
    for epochs in (4, 8):
        study.enqueue_trial({"epochs": epochs})
    short, full = run(spec, progress=False).study.trials
    assert sorted(short.intermediate_values) == [1, 2, 3, 4]  # step = epoch, whatever the trial's epochs
    assert sorted(full.intermediate_values) == list(range(1, 9))
    assert short.user_attrs["best_epochs"] == [4, 4] and full.user_attrs["best_epochs"] == [8, 8]
    # the last report is the mean of the folds' validation MSE: with patience 0, exactly the trial's value
    assert full.intermediate_values[8] == pytest.approx(full.value, rel=1e-12)
    assert short.intermediate_values[4] == pytest.approx(short.value, rel=1e-12)


def test_rerun_resumes_to_exactly_n_trials(tiny_study):
    path = tiny_study(n_trials=5)
    spec = load_study(path)
    first = run(spec, n_trials=2, progress=False)  # as if interrupted after two trials
    assert len(first.study.trials) == 2
    second = run(spec, progress=False)
    assert second.ran == 3 and len(second.study.trials) == 5
    assert run(spec, progress=False).ran == 0  # nothing left to do
    assert all(t.state.is_finished() for t in second.study.trials)


def test_same_file_and_seed_give_the_same_first_trial(tiny_study, tmp_path):
    path = tiny_study(n_trials=1)
    spec = load_study(path)
    a = run(spec, storage=f"sqlite:///{tmp_path}/a.db", progress=False).study.trials[0]
    b = run(spec, storage=f"sqlite:///{tmp_path}/b.db", progress=False).study.trials[0]
    assert a.params == b.params and a.value == b.value
    assert a.user_attrs["fold_mse"] == b.user_attrs["fold_mse"]
    other = load_study(tiny_study(name="other", n_trials=1, seed=1))
    c = run(other, storage=f"sqlite:///{tmp_path}/c.db", progress=False).study.trials[0]
    assert c.params != a.params


def test_diverging_trial_fails_with_its_reason_and_the_study_goes_on(tiny_study):
    path = tiny_study(n_trials=3, search='learning_rate = [50.0]\noptimizer = ["sgd"]\nactivation = ["relu"]')
    study = run(load_study(path), progress=False).study
    assert len(study.trials) == 3
    for t in study.trials:
        assert t.state == optuna.trial.TrialState.FAIL
        assert "diverged at epoch" in t.user_attrs["fail_reason"] and t.value is None
