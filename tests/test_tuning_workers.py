"""Several workers, killed workers, interrupts, and PostgreSQL."""

import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
import sqlalchemy
from conftest import BIN
from optuna.trial import TrialState

from tuner.config.studyfile import load_study
from tuner.tuning.liveness import counted
from tuner.tuning.runner import open_study, run


def states(url: str, name: str = "tiny") -> list[optuna.trial.FrozenTrial]:
    try:
        return optuna.load_study(study_name=name, storage=url).trials
    except (KeyError, sqlalchemy.exc.SQLAlchemyError):  # the worker is still creating the tables or the study
        return []


def wait_for(predicate, seconds: float = 60, what: str = "condition") -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_two_workers_reach_exactly_n_trials_and_run_each_queued_trial_once(tiny_study, tmp_path):
    path = tiny_study(n_trials=10, search='learning_rate = {low = 1e-3, high = 3e-2, log = true}')
    spec = load_study(path)
    study = open_study(spec)
    queued = [0.001 + 0.001 * i for i in range(6)]
    for lr in queued:  # queued trials are what SQLite ran twice under concurrent workers
        study.enqueue_trial({"learning_rate": lr})
    done = subprocess.run([BIN / "tuner", "tune", str(path), "--workers", "2", "-q"], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    trials = states(f"sqlite:///{tmp_path / 'tiny.db'}")
    assert len(trials) == 10 and all(t.state.is_finished() for t in trials)
    ran = [t.params["learning_rate"] for t in trials]
    assert all(ran.count(lr) == 1 for lr in queued)


@pytest.mark.slow
def test_a_killed_worker_s_trial_is_retried_and_the_study_completes(tiny_study, tmp_path):
    # trials of a few seconds (500 epochs: 2-3 s here, 5 s with the suite beside): the kill lands mid-trial
    path = tiny_study(n_trials=4, epochs=500, search='learning_rate = {low = 1e-3, high = 1e-2, log = true}')
    text = path.read_text().replace("[study]\n", "[study]\nheartbeat = 1\ngrace_period = 3\n")
    path.write_text(text.replace("patience = 3", "patience = 500"))
    url = f"sqlite:///{tmp_path / 'tiny.db'}"
    victim = subprocess.Popen([BIN / "tuner", "worker", str(path)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (tmp_path / "tiny.db").exists() and any(
            t.state == TrialState.RUNNING for t in states(url)), what="a running trial")
        time.sleep(0.3)
        victim.send_signal(signal.SIGKILL)  # mid-trial, no chance to clean up
        victim.wait(timeout=30)
    finally:
        if victim.poll() is None:
            victim.kill()
    assert any(t.state == TrialState.RUNNING for t in states(url))  # left behind by the dead worker
    survivor = subprocess.run([BIN / "tuner", "worker", str(path), "--n-trials", "1"], capture_output=True,
                              text=True, timeout=600)  # the retry is queued: it is the trial the survivor runs
    assert survivor.returncode == 0, survivor.stderr
    trials = states(url)
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    stale = [t for t in trials if t.state == TrialState.FAIL]
    assert len(stale) == 1
    # failed by the heartbeat's grace period, or at once because its pid is gone from this host
    retry = [t for t in trials if stale[0].number in (t.system_attrs.get("failed_trial"), t.user_attrs.get("retry_of"))]
    assert len(retry) == 1 and retry[0].state.is_finished() and retry[0].params == stale[0].params
    assert counted(trials) == 1


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.slow
def test_interrupt_keeps_finished_trials_and_the_same_command_resumes(tiny_study, tmp_path, sig, code):
    # trials of a few seconds (a stacked trial of 60 epochs took a fraction of one): the signal lands mid-trial
    path = tiny_study(n_trials=2, epochs=300, search='learning_rate = {low = 1e-3, high = 1e-2, log = true}')
    path.write_text(path.read_text().replace("patience = 3", "patience = 300"))
    url = f"sqlite:///{tmp_path / 'tiny.db'}"
    proc = subprocess.Popen([BIN / "tuner", "tune", str(path), "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    def training() -> bool:  # a trial finished, and the next one is in its epochs (it has reported)
        trials = states(url)
        return any(t.state == TrialState.COMPLETE for t in trials) and any(
            t.state == TrialState.RUNNING and t.intermediate_values for t in trials)

    # a generous deadline: on a loaded machine (the suite on 2 processes, Dask clusters beside) a trial is slower
    wait_for(lambda: (tmp_path / "tiny.db").exists() and training(), 180, what="a trial interrupted mid-training")
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "Traceback" not in err and "run the same command to resume" in err
    trials = states(url)
    assert trials and all(t.state.is_finished() for t in trials)  # nothing left RUNNING
    complete = [t.number for t in trials if t.state == TrialState.COMPLETE]
    interrupted = [t for t in trials if t.user_attrs.get("interrupted")]
    assert len(interrupted) == 1 and interrupted[0].state == TrialState.FAIL  # the one that was training
    assert interrupted[0].user_attrs["fail_kind"] == "environment"
    again = subprocess.run([BIN / "tuner", "tune", str(path), "-q"], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    trials = states(url)
    assert counted(trials) == 2 and all(t.state.is_finished() for t in trials)
    assert all(trials[n].state == TrialState.COMPLETE for n in complete)  # finished ones were kept


def run_queued(tiny_study, key: str, values: list):
    """A study searching `key` over `values` that runs each value twice, in order (queued)."""
    spec = load_study(tiny_study(n_trials=2 * len(values), search=f"{key} = {values}"))
    study = open_study(spec)
    for value in values * 2:
        study.enqueue_trial({key: value})
    return run(spec, progress=False)


def test_an_unexpected_error_fails_its_trial_with_the_reason_and_the_study_goes_on(tiny_study):
    # a searched window longer than the data: that trial cannot even build its windows
    result = run_queued(tiny_study, "window", [8, 400])
    trials = result.study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL] * 2
    assert "DataError" in trials[1].user_attrs["fail_reason"] and "too short" in trials[1].user_attrs["fail_reason"]
    from tuner.app.summary import summary

    assert "failed: 2 x DataError" in summary(result)


def test_searched_data_settings_that_leave_too_few_windows_for_the_folds_are_the_parameters_fault(tiny_study):
    """seasonal_difference = 220 leaves 12 training windows: more than folds + 1 + gap, fewer than
    TimeSeriesSplit accepts. The trial fails with the reason, counts as its parameters', and the study ends at
    n_trials (nothing reaches scikit-learn's ValueError, nothing is retried)."""
    trials = run_queued(tiny_study, "seasonal_difference", [0, 220]).study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL] * 2
    for t in trials[1::2]:
        assert t.user_attrs["fail_kind"] == "params"
        assert "too short" in t.user_attrs["fail_reason"] and "it needs at least" in t.user_attrs["fail_reason"]
        assert "ValueError" not in t.user_attrs["fail_reason"]


POSTGRES = os.environ.get("TUNER_TEST_POSTGRES")


@pytest.fixture
def fresh_postgres():
    """A new, empty database on the test server, dropped afterwards: workers meet it without tables."""
    assert POSTGRES, "CI=true but TUNER_TEST_POSTGRES is not set: .ci/run must start PostgreSQL"
    url = sqlalchemy.engine.make_url(POSTGRES)
    name = f"tuner_test_{os.getpid()}"
    admin = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.execute(sqlalchemy.text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


@pytest.mark.skipif(not POSTGRES and os.environ.get("CI") != "true",
                    reason="set TUNER_TEST_POSTGRES=postgresql+psycopg2://... (CI starts a server)")
@pytest.mark.slow
def test_two_workers_share_a_study_on_postgresql(tiny_study, fresh_postgres):
    path = tiny_study(name="pg", n_trials=6)
    workers = [subprocess.Popen([BIN / "tuner", "worker", str(path), "--storage", fresh_postgres, "--worker-index",
                                 str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    for w in workers:
        _, err = w.communicate(timeout=600)
        assert w.returncode == 0, err
    trials = states(fresh_postgres, "pg")
    assert counted(trials) == 6 and len(trials) == 6 and all(t.state.is_finished() for t in trials)
    assert all(t.user_attrs["worker"] for t in trials)  # which process (and machine) ran each trial


@pytest.mark.skipif(not POSTGRES and os.environ.get("CI") != "true",
                    reason="set TUNER_TEST_POSTGRES=postgresql+psycopg2://... (CI starts a server)")
@pytest.mark.slow
def test_postgres_password_never_printed(tiny_study):
    url = sqlalchemy.engine.make_url(POSTGRES).set(password="s3cret-pw", database="nosuchdb")
    path = tiny_study(n_trials=1)
    done = subprocess.run([BIN / "tuner", "tune", str(path), "--storage", url.render_as_string(hide_password=False),
                           "-q"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "cannot open storage postgresql+psycopg2://tuner:***@" in done.stderr
    assert "s3cret-pw" not in done.stderr + done.stdout


@pytest.mark.slow
def test_workers_started_by_a_library_caller_do_not_fail_its_trials(tiny_study, tmp_path):
    """A program that is not `tuner` (a notebook, bench/quality.py) runs a study with --workers: its helpers
    must not take its running trials for a dead worker's (a bug once: "Cannot tell a FAIL trial")."""
    path = tiny_study(n_trials=2, epochs=400, search='learning_rate = {low = 1e-3, high = 1e-2, log = true}')
    path.write_text(path.read_text().replace("patience = 3", "patience = 400").replace("[study]\n",
                                                                                     '[study]\npruner = "none"\n'))
    driver = tmp_path / "drive.py"
    driver.write_text("import sys\nfrom tuner.config.studyfile import load_study\nfrom tuner.tuning.runner import run\n"
                      "result = run(load_study(sys.argv[1]), progress=False, workers=2)\n"
                      "print(len(result.study.trials))\n")
    done = subprocess.run([sys.executable, str(driver), str(path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    trials = states(f"sqlite:///{tmp_path / 'tiny.db'}")
    assert len(trials) == 2 and all(t.state == TrialState.COMPLETE for t in trials)
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # the helper ran one beside the caller's


@pytest.mark.slow
def test_a_stop_reaches_forked_helpers_and_the_same_command_resumes(tiny_study, tmp_path):
    path = tiny_study(n_trials=4, epochs=500, search='learning_rate = {low = 1e-3, high = 1e-2, log = true}')
    path.write_text(path.read_text().replace("patience = 3", "patience = 500"))
    url = f"sqlite:///{tmp_path / 'tiny.db'}"
    proc = subprocess.Popen([BIN / "tuner", "tune", str(path), "-q", "--workers", "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    wait_for(lambda: (tmp_path / "tiny.db").exists()
             and len({t.user_attrs.get("worker") for t in states(url) if t.state == TrialState.RUNNING}) == 2,
             what="both workers training")
    proc.send_signal(signal.SIGTERM)  # to the parent alone: it passes the stop on
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    trials = states(url)
    assert len(trials) == 2 and all(t.state == TrialState.FAIL and t.user_attrs["interrupted"] for t in trials)
    again = subprocess.run([BIN / "tuner", "tune", str(path), "-q", "--n-trials", "2", "--workers", "2"],
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert counted(states(url)) == 2
