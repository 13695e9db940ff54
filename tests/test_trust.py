"""A study is a truthful record: nothing mixed, nothing burnt, nothing leaked, no host taken down.

Each class of the issue through the command line: the exit code, a single stderr line without a traceback,
and the database's bytes or the study's trial counts. Most run the CLI in-process (fast); the ones about
processes (kill -9, two runs at once, `ps`, ulimit -v) run real console processes.
"""

import gc
import json
import os
import re
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from conftest import BIN, cli
from optuna.trial import TrialState

from tuner.config.studyfile import load_study
from tuner.tuning.liveness import _process_alive, counted, reap_dead_workers
from tuner.tuning.runner import open_study

SEARCH = "learning_rate = {low = 1e-3, high = 3e-2, log = true}"


def one_error_line(err: str, expected: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and re.match(r"tuner( \w+)?: error: ", lines[0]), err
    assert expected in lines[0], err


def trials_of(db, name="tiny") -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{db}").trials


# ---------------------------------------------------------------- 1. a study means one thing

@pytest.fixture
def finished(tiny_study, tmp_path, capsys):
    """A finished 2-trial study and its file."""
    path = tiny_study(n_trials=2, epochs=3, search=SEARCH)
    code, _, err = cli(capsys, "tune", path, "-q")
    assert code == 0, err
    # as when the user's `tuner tune` has exited: its connections closed, the write-ahead log in the file
    # (else a late close here would checkpoint it while a test compares the file's bytes)
    gc.collect()
    with sqlite3.connect(tmp_path / "tiny.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


@pytest.mark.parametrize("old, new, named", [
    ("window = 8", "window = 12", "data.window was 8, now 12"),
    ("folds = 2", "folds = 3", "cv.folds was 2, now 3"),
    ("seed = 0", "seed = 1", "study.seed was 0, now 1"),
    ("hidden_units = 8", "hidden_units = 8\nensemble = 2", "train.ensemble was 1, now 2"),
    ("epochs = 3", "epochs = 4", "train.epochs was 3, now 4"),
])
def test_a_changed_meaning_is_refused_and_the_database_is_untouched(finished, tmp_path, capsys, old, new, named):
    db = tmp_path / "tiny.db"
    before = db.read_bytes()
    finished.write_text(finished.read_text().replace(old, new))
    code, _, err = cli(capsys, "tune", finished, "-q")
    assert code == 2
    one_error_line(err, named)
    assert "new [study].name" in err and "--fresh" in err
    assert db.read_bytes() == before
    code, _, err = cli(capsys, "worker", finished)  # a worker joining with the changed file: refused too
    assert code == 2 and named in err and db.read_bytes() == before


def test_changes_that_do_not_change_meaning_resume(finished, tmp_path, capsys):
    text = finished.read_text().replace("n_trials = 2", "n_trials = 3\nheartbeat = 0\nreport_every = 2\ntimeout = 600")
    finished.write_text(text)
    code, _, err = cli(capsys, "tune", finished, "-q")
    assert code == 0, err
    assert len(trials_of(tmp_path / "tiny.db")) == 3


def test_changed_csv_content_is_refused(tiny_study, tmp_path, capsys):
    csv = tmp_path / "series.csv"
    csv.write_text("t,y\n" + "".join(f"{i},{np.sin(i / 5):.5f}\n" for i in range(200)))
    path = tiny_study(n_trials=1, epochs=2, search=SEARCH)
    path.write_text(path.read_text().replace('dataset = "sine"\nn_points = 300',
                                             f'dataset = "csv"\npath = "{csv}"\ntarget = "y"\ntime = "t"'))
    assert cli(capsys, "tune", path, "-q")[0] == 0
    csv.write_text(csv.read_text().replace("\n5,", "\n5,9").replace(",0.84147", ",0.5"))
    code, _, err = cli(capsys, "tune", path, "-q", "--n-trials", 2)
    assert code == 2
    one_error_line(err, "data.content was ")


def test_fresh_keeps_the_old_trials_under_another_name_and_starts_over(finished, tmp_path, capsys):
    finished.write_text(finished.read_text().replace("window = 8", "window = 12"))
    code, _, err = cli(capsys, "tune", finished, "-q", "--fresh")
    assert code == 0, err
    assert "kept the old trials of 'tiny' as study 'tiny-1'" in err
    old, new = trials_of(tmp_path / "tiny.db", "tiny-1"), trials_of(tmp_path / "tiny.db")
    assert len(old) == 2 and len(new) == 2
    assert optuna.load_study(study_name="tiny", storage=f"sqlite:///{tmp_path / 'tiny.db'}").user_attrs[
        "spec"]["data"]["window"] == 12


def test_a_changed_search_space_is_recorded_and_export_writes_the_spec_each_trial_ran_with(finished, tmp_path,
                                                                                        capsys):
    # version 2 also searches hidden_units: allowed, and recorded as a second version of the spec
    text = finished.read_text().replace("n_trials = 2", "n_trials = 4")
    finished.write_text(text.replace("[search]", "[search]\nhidden_units = [4, 16]"))
    assert cli(capsys, "tune", finished, "-q")[0] == 0
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{tmp_path / 'tiny.db'}")
    versions = {k for k in study.user_attrs if k.startswith("spec:")}
    assert len(versions) == 2
    assert all("spec:" + t.user_attrs["spec"] in versions for t in study.trials)
    # the study file changes again (hidden_units fixed at 32): an old trial still exports what it ran with
    finished.write_text(text.replace("hidden_units = 8", "hidden_units = 32"))
    code, _, err = cli(capsys, "export", finished, "-o", tmp_path / "all.toml", "--top", 4)
    assert code == 0, err
    from tuner.evaluate.cv import cross_validate

    for i in range(1, 5):
        exported = load_study(tmp_path / f"all-{i}.toml")
        trial = study.trials[exported.provenance["trial"]]
        assert exported.train.hidden_units == trial.params.get("hidden_units", 8)
        from tuner.data.prepare import prepare

        cv = cross_validate(exported, prepare(exported.data, exported.cv, exported.seed), trial.number)
        assert cv.mean == pytest.approx(trial.value, rel=1e-9)  # the round trip is exact


# ---------------------------------------------------------------- 2. a bad environment does not eat the budget

def test_a_worker_with_missing_data_stops_before_any_trial(tiny_study, tmp_path, capsys):
    path = tiny_study(n_trials=2)
    path.write_text(path.read_text().replace('dataset = "sine"', f'dataset = "csv"\npath = "{tmp_path}/gone.csv"\n'
                                                                 f'target = "y"'))
    for command in ("tune", "worker"):
        code, _, err = cli(capsys, command, path)
        assert code == 2
        one_error_line(err, "gone.csv does not exist")
    assert not (tmp_path / "tiny.db").exists()


def test_trials_failed_by_the_environment_do_not_count_and_the_run_stops_after_three(tiny_study, tmp_path, capsys,
                                                                                     monkeypatch):
    path = tiny_study(n_trials=4, epochs=2, search=SEARCH)
    spec = load_study(path)
    open_study(spec).enqueue_trial({"learning_rate": 0.02})

    def broken(*args, **kwargs):
        raise OSError(5, "Input/output error")  # say, a network disk gone mid-study

    monkeypatch.setattr("tuner.tuning.objective.cross_validate", broken)
    code, _, err = cli(capsys, "tune", path, "-q")
    assert code == 2
    one_error_line(err, "3 trials in a row failed for a reason that is not their parameters")
    assert "Input/output error" in err and "rerun the same command" in err
    trials = trials_of(tmp_path / "tiny.db")
    assert len(trials) == 3 and all(t.user_attrs["fail_kind"] == "environment" for t in trials)
    assert counted(trials) == 0
    monkeypatch.undo()  # the cause is fixed: the same command runs on to n_trials
    code, out, err = cli(capsys, "tune", path, "-q")
    assert code == 0, err
    trials = trials_of(tmp_path / "tiny.db")
    assert counted(trials) == 4 and sum(t.state == TrialState.COMPLETE for t in trials) == 4


def test_a_diverged_trial_counts(tiny_study, tmp_path, capsys):
    path = tiny_study(n_trials=2, epochs=3, search="learning_rate = {low = 1e-3, high = 1e3, log = true}")
    path.write_text(path.read_text().replace('cell = "gru"', 'cell = "rnn"\nclip_norm = 0.0\noptimizer = "sgd"'))
    open_study(load_study(path)).enqueue_trial({"learning_rate": 900.0})
    assert cli(capsys, "tune", path, "-q")[0] == 0
    trials = trials_of(tmp_path / "tiny.db")
    assert trials[0].state == TrialState.FAIL and trials[0].user_attrs["fail_kind"] == "params"
    assert "diverged" in trials[0].user_attrs["fail_reason"] and len(trials) == 2


def wait_for(predicate, seconds=60.0):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def running(db) -> list:
    try:
        return [t for t in trials_of(db) if t.state == TrialState.RUNNING]
    except Exception:  # tables not there yet
        return []


@pytest.mark.slow
def test_without_heartbeats_a_killed_worker_s_trial_does_not_hang_the_next_run(tiny_study, tmp_path):
    path = tiny_study(n_trials=1, epochs=500, search=SEARCH)  # a trial of seconds: the kill lands mid-trial
    path.write_text(path.read_text().replace("[study]\n", "[study]\nheartbeat = 0\n").replace("patience = 3",
                                                                                            "patience = 500"))
    db = tmp_path / "tiny.db"
    victim = subprocess.Popen([BIN / "tuner", "worker", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: db.exists() and any(t.user_attrs.get("worker") and t.params for t in running(db)))
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    assert running(db)  # left behind, and no heartbeat will ever fail it
    again = subprocess.run([BIN / "tuner", "tune", path, "-q"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    trials = trials_of(db)
    dead = [t for t in trials if "died" in t.user_attrs.get("fail_reason", "")]
    assert len(dead) == 1 and dead[0].user_attrs["fail_kind"] == "environment"
    retry = [t for t in trials if t.user_attrs.get("retry_of") == dead[0].number]
    assert len(retry) == 1 and retry[0].params == dead[0].params and retry[0].state.is_finished()
    assert not running(db) and counted(trials) == 1  # the retry took the dead trial's place


def test_a_killed_worker_not_yet_reaped_by_its_parent_counts_as_dead():
    """A zombie stays in /proc until its parent waits for it (a supervisor that has not yet, a test), but it runs
    nothing: its trial must be retried, not waited for."""
    since = time.time()
    child = subprocess.Popen(["sleep", "60"])
    try:
        assert _process_alive(child.pid, since)
        child.send_signal(signal.SIGKILL)
        wait_for(lambda: Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z")
        assert not _process_alive(child.pid, since)
    finally:
        child.kill()
        child.wait()


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")  # study.ask on a storage with Optuna's heartbeats
def test_a_trial_that_stamps_its_own_heartbeats_is_retried_once_silent_past_its_grace(tiny_study, capsys):
    """A Dask task's trial (Optuna's heartbeats need an RDB storage in the worker) stamps heartbeat_at itself;
    one left RUNNING by a run that died whole (its scheduler and client together) is retried by the next run,
    and one still beating is left alone."""
    path = tiny_study(n_trials=2, epochs=2, search=SEARCH)
    study = open_study(load_study(path))
    silent, beating = study.ask({"learning_rate": optuna.distributions.FloatDistribution(1e-3, 3e-2, log=True)}), \
        study.ask()
    for trial, at in ((silent, time.time() - 100), (beating, time.time())):
        trial.set_user_attr("worker", "elsewhere:1")
        study._storage.set_trial_system_attr(trial._trial_id, "heartbeat_grace", 30)
        study._storage.set_trial_system_attr(trial._trial_id, "heartbeat_at", at)
    assert reap_dead_workers(study, study.get_trials()) == 1
    failed = study.get_trials()[silent.number]
    assert failed.state == TrialState.FAIL and failed.user_attrs["fail_kind"] == "environment"
    silence = re.fullmatch(r"its worker elsewhere:1 sent no heartbeat for (\d+) s", failed.user_attrs["fail_reason"])
    assert silence and 100 <= int(silence[1]) <= 130
    assert study.get_trials()[beating.number].state == TrialState.RUNNING
    study.tell(beating, 1.0)
    code, _, err = cli(capsys, "tune", path, "-q")
    assert code == 0, err
    trials = study.get_trials()
    retry = [t for t in trials if t.user_attrs.get("retry_of") == silent.number]
    assert len(retry) == 1 and retry[0].params == failed.params and retry[0].state.is_finished()
    assert counted(trials) == 2 and not running_in(trials)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_a_trial_whose_worker_died_before_naming_itself_is_retried(tiny_study, capsys, monkeypatch):
    """A worker killed between creating its trial and its first write leaves a RUNNING trial that names no
    worker and sends no heartbeat of ours: after UNCLAIMED_AFTER seconds the next run retries it."""
    path = tiny_study(n_trials=1, epochs=2, search=SEARCH)
    path.write_text(path.read_text().replace("[study]\n", "[study]\nheartbeat = 0\n"))
    study = open_study(load_study(path))
    orphan = study.ask()
    monkeypatch.setattr("tuner.tuning.liveness.UNCLAIMED_AFTER", 0.0)
    code, _, err = cli(capsys, "tune", path, "-q")
    assert code == 0, err
    trials = study.get_trials()
    assert trials[orphan.number].state == TrialState.FAIL
    assert "no worker named itself on it" in trials[orphan.number].user_attrs["fail_reason"]
    assert counted(trials) == 1 and not running_in(trials)


def running_in(trials: list) -> list:
    return [t for t in trials if t.state == TrialState.RUNNING]


@pytest.mark.slow
def test_two_runs_started_at_once_do_not_share_a_sampler_seed(tiny_study, tmp_path):
    path = tiny_study(n_trials=6, epochs=2, search=SEARCH)
    path.write_text(path.read_text().replace("[study]\n", '[study]\nsampler = "random"\n'))
    open_study(load_study(path))  # the study exists, as when a user starts two terminals on it
    runs = [subprocess.Popen([BIN / "tuner", "tune", path, "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    for p in runs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    trials = trials_of(tmp_path / "tiny.db")
    rates = [t.params["learning_rate"] for t in trials]
    assert len(trials) == 6 and len(set(rates)) == 6  # one shared seed would have drawn each rate twice
    assert optuna.load_study(study_name="tiny", storage=f"sqlite:///{tmp_path / 'tiny.db'}").user_attrs[
        "workers_started"] == 2


# ---------------------------------------------------------------- 3. sizes are bounded before any allocation

LIMIT = 3 << 30  # ulimit -v for these processes: numpy, scipy and optuna map about 1 GiB


def limited(args, cwd) -> subprocess.CompletedProcess:
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))

    return subprocess.run([BIN / "tuner", *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd,
                          preexec_fn=cap)


@pytest.mark.parametrize("old, new, expected", [
    ("hidden_units = 8", "hidden_units = 1000000000", "the smallest trial (hidden_units=1000000000"),
    ("n_points = 300", "n_points = 1000000000000", "the data (999999999992 windows"),
    ('dataset = "sine"', 'dataset = "adding"\nlength = 100000000', "the data ("),
])
@pytest.mark.slow
def test_a_size_that_cannot_fit_is_refused_under_a_memory_limit(tiny_study, tmp_path, old, new, expected):
    path = tiny_study(n_trials=2, search=SEARCH)
    path.write_text(path.read_text().replace(old, new))
    done = limited(["tune", path, "-q"], tmp_path)
    assert done.returncode == 2, done.stderr
    one_error_line(done.stderr, expected)
    assert "needs about" in done.stderr and "this process may use" in done.stderr
    assert not (tmp_path / "tiny.db").exists()


@pytest.mark.slow
def test_training_a_config_that_cannot_fit_is_refused_under_a_memory_limit(tiny_study, tmp_path):
    path = tiny_study(n_trials=2, search=SEARCH)
    path.write_text(path.read_text().replace("hidden_units = 8", "hidden_units = 300000"))
    done = limited(["train", path, "-o", tmp_path / "model"], tmp_path)
    assert done.returncode == 2, done.stderr
    one_error_line(done.stderr, "training gru with hidden_units=300000 needs about")


@pytest.mark.slow
def test_a_searched_size_that_cannot_fit_fails_its_trial_not_the_process(tiny_study, tmp_path):
    path = tiny_study(n_trials=3, epochs=2, search="hidden_units = {low = 4, high = 1000000000, log = true}")
    open_study(load_study(path)).enqueue_trial({"hidden_units": 900000000})
    done = limited(["tune", path, "-q"], tmp_path)
    assert done.returncode == 0, done.stderr
    trials = trials_of(tmp_path / "tiny.db")
    assert trials[0].state == TrialState.FAIL and trials[0].user_attrs["fail_kind"] == "params"
    assert "too large for memory" in trials[0].user_attrs["fail_reason"]
    assert len(trials) == 3  # it counts: the parameters are what cannot fit


@pytest.mark.slow
def test_a_yaml_alias_bomb_is_refused(tmp_path):
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\nstudy: {name: bomb}\n")
    assert len(path.read_bytes()) < 1000  # would expand to 10**9 strings
    done = limited(["tune", path], tmp_path)
    assert done.returncode == 2
    one_error_line(done.stderr, "anchors and aliases (&, *) are not allowed")


def test_estimates_bound_what_training_really_allocates():
    import tracemalloc

    from tuner.nn import SequenceModel, make_optimizer
    from tuner.nn.sizes import trial_bytes
    from tuner.train.trainer import fit

    rng = np.random.default_rng(0)
    for cell, hidden, layers, dtype, batch in [("lstm", 64, 2, "float64", 32), ("gru", 48, 1, "float32", 16),
                                               ("rnn", 96, 3, "float64", 64)]:
        x, y = rng.standard_normal((200, 20, 3)), rng.standard_normal((200, 2))
        x_eval = rng.standard_normal((100, 20, 3))
        tracemalloc.start()
        model = SequenceModel(cell, 3, hidden, 2, num_layers=layers, dtype=dtype)
        fit(model, make_optimizer("adam", lr=1e-3), x, y, epochs=2, batch_size=batch, patience=2,
            x_val=x_eval, y_val=np.zeros((len(x_eval), 2)))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        data = x.nbytes + y.nbytes + x_eval.nbytes  # allocated before tracing
        estimate = trial_bytes(cell, 3, hidden, 2, layers, dtype, 20, batch, 100)
        assert peak <= estimate, (cell, peak, estimate)
        assert estimate < 20 * peak + data, (cell, peak, estimate)  # an upper bound, not a wild one


# ---------------------------------------------------------------- 4. secrets stay secret

def test_mask_hides_passwords_even_in_urls_that_do_not_parse():
    from tuner.redact import mask, mask_text

    for url in ["postgresql+psycopg2://me:s3cr@t@db/x", "postgresql://me:s3cr%40t@db:5432/x?sslmode=require",
                "postgresql://db/x?user=me&password=s3cr@t", "postgres ql://me:s3cr@t@no such host:port/x"]:
        assert "s3cr" not in mask(url) and "***" in mask(url)
        assert "s3cr" not in mask_text(f"could not connect to {url} with s3cr@t", url)


def test_a_storage_password_is_not_stored_in_the_study(tiny_study, tmp_path, capsys):
    path = tiny_study(n_trials=1, epochs=2, search=SEARCH)
    import dataclasses

    from tuner.config.studyfile import to_doc

    secret = dataclasses.replace(load_study(path), storage="postgresql://me:hunter2@db/x")
    assert "hunter2" not in json.dumps(to_doc(secret)) and "***" in json.dumps(to_doc(secret))
    code, _, err = cli(capsys, "tune", path, "-q", "--storage", "postgres ql://me:hunter2@@bad")  # does not parse
    assert code == 2 and "hunter2" not in err and "***" in err


POSTGRES = os.environ.get("TUNER_TEST_POSTGRES")


@pytest.mark.skipif(not POSTGRES and os.environ.get("CI") != "true",
                    reason="set TUNER_TEST_POSTGRES=postgresql+psycopg2://... (CI starts a server)")
@pytest.mark.slow
def test_a_postgres_password_is_never_in_ps_the_study_or_any_output(tiny_study, tmp_path):
    assert POSTGRES, "CI=true but TUNER_TEST_POSTGRES is not set: .ci/run must start PostgreSQL"
    import sqlalchemy

    password = sqlalchemy.engine.make_url(POSTGRES).password
    assert password
    path = tiny_study(name=f"secret{os.getpid()}", n_trials=4, epochs=30, search=SEARCH)
    env = {**os.environ, "TUNER_STORAGE": POSTGRES}
    proc = subprocess.Popen([BIN / "tuner", "tune", path, "--workers", "2", "-q"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    seen, helpers = [], 0
    while proc.poll() is None:  # the run's own processes (other tests may run beside it)
        parents = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                parents[int(pid)] = int(open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                pass
        ours, grew = {proc.pid}, True
        while grew:
            more = {pid for pid, parent in parents.items() if parent in ours} - ours
            ours |= more
            grew = bool(more)
        helpers = max(helpers, len(ours) - 1)
        for pid in ours:
            try:
                seen.append(open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace"))
            except OSError:
                pass
        time.sleep(0.2)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert helpers >= 1  # the helper worker ran, and its command line was read
    assert not [c for c in seen if password in c]
    study = optuna.load_study(study_name=f"secret{os.getpid()}", storage=POSTGRES)
    written = [out, err, json.dumps(study.user_attrs), json.dumps([t.user_attrs for t in study.trials])]
    for args in (["export", path, "-o", tmp_path / "best.toml"], ["trials", path, "-o", tmp_path / "t.csv"],
                 ["report", path, "-o", tmp_path / "r.html"]):
        done = subprocess.run([BIN / "tuner", *map(str, args)], capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        written += [done.stdout, done.stderr, (tmp_path / args[-1].name).read_text()]
    assert not [w for w in written if password in w]
    optuna.delete_study(study_name=f"secret{os.getpid()}", storage=POSTGRES)


# ---------------------------------------------------------------- 5. the config check is complete

@pytest.mark.parametrize("old, new, expected", [
    ("[search]\n", "[search]\nweight_decay = [nan]\n", "search.weight_decay values must be a finite number"),
    ("hidden_units = 8", "hidden_units = 8\nlearning_rate = nan", "train.learning_rate must be a finite number"),
    ("hidden_units = 8", "hidden_units = 8\nclip_norm = inf", "train.clip_norm must be a finite number"),
    ("n_trials = 2", "n_trials = 2\ntimeout = nan", "study.timeout must be a finite number"),
    (SEARCH, "learning_rate = {low = nan, high = 0.1}", "search.learning_rate.low and .high must be finite"),
    (SEARCH, "hidden_units = {low = 4, high = 64, step = 0}", "search.hidden_units.step must be a positive"),
    (SEARCH, "hidden_units = {low = 4, high = 64, step = -4}", "search.hidden_units.step must be a positive"),
    (SEARCH, "hidden_units = {low = 4, high = 64, step = 100}", "is larger than the range 4..64"),
    (SEARCH, "learning_rate = {low = 1e-3, high = 1e-1, log = true, step = 1e-3}", "step and log = true"),
    ("seed = 0", "seed = -1", "seed must be between 0 and 4294967295"),
    ("seed = 0", "seed = 4294967296", "seed must be between 0 and 4294967295"),
])
def test_every_invalid_value_is_refused_before_anything_runs(tiny_study, tmp_path, capsys, old, new, expected):
    path = tiny_study(n_trials=2, search=SEARCH)
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))
    code, _, err = cli(capsys, "tune", path, "-q")
    assert code == 2
    one_error_line(err, expected)
    assert not list(tmp_path.glob("*.db"))


@pytest.mark.parametrize("args, expected", [
    (["tune", "{path}", "--timeout", "-5"], "argument --timeout: must be a positive number of seconds"),
    (["tune", "{path}", "--timeout", "nan"], "argument --timeout: must be a positive number of seconds"),
    (["tune", "{path}", "--workers", "100000"], "argument --workers: must be at most"),
    (["tune", "{path}", "--n-trials", "-1"], "argument --n-trials: must be at least 1"),
    (["worker", "{path}", "--worker-index", "-1"], "argument --worker-index: must be at least 0"),
    (["worker", "{path}", "--timeout", "inf"], "argument --timeout: must be a positive number of seconds"),
    (["dashboard", "{path}", "--port", "70000"], "argument --port: must be at most 65535"),
])
def test_every_invalid_option_is_refused_before_anything_runs(tiny_study, tmp_path, capsys, args, expected):
    path = tiny_study(n_trials=2, search=SEARCH)
    code, _, err = cli(capsys, *[a.replace("{path}", str(path)) for a in args])
    assert code == 2
    one_error_line(err, expected)
    assert not list(tmp_path.glob("*.db"))


# ---------------------------------------------------------------- 6. every user error is one line

def test_output_paths_that_cannot_be_written(finished, tmp_path, capsys):
    folder = tmp_path / "afolder"
    folder.mkdir()
    (tmp_path / "afile").write_text("x")
    for args, expected in [
        (["trials", finished, "-o", folder], "is a directory"),
        (["report", finished, "-o", folder], "is a directory"),
        (["export", finished, "-o", folder], "is a directory"),
        (["export", finished, "-o", tmp_path / "afile" / "best.toml"], "cannot create the folder"),
        (["train", finished, "-o", tmp_path / "afile"], "is a file"),
    ]:
        code, _, err = cli(capsys, *args)
        assert code == 2, args
        one_error_line(err, expected)
    code, out, err = cli(capsys, "trials", finished, "-o", tmp_path / "new" / "deeper" / "t.csv")
    assert code == 0 and (tmp_path / "new" / "deeper" / "t.csv").is_file()  # a missing folder is made


def test_trials_without_output_writes_to_stdout(finished, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, "trials", finished)
    assert code == 0 and out.startswith("number,value,") and len(out.strip().splitlines()) == 3
    assert not (tmp_path / "trials.csv").exists()


def test_dashboard_address_errors(finished, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = cli(capsys, "dashboard", finished, "--port", port)
    assert code == 2
    one_error_line(err, f"port {port} on 127.0.0.1 is in use")
    code, _, err = cli(capsys, "dashboard", finished, "--host", "192.0.2.1")  # TEST-NET: never this machine
    assert code == 2
    one_error_line(err, "must be an address of this machine")
    code, _, err = cli(capsys, "dashboard", finished, "--host", "no.such.host.invalid")
    assert code == 2
    one_error_line(err, "is not an address of this machine")


def test_a_database_that_is_not_a_tuner_study_is_never_altered(tmp_path, capsys):
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE sales (day INTEGER, amount REAL)")
        conn.execute("INSERT INTO sales VALUES (1, 2.5)")
    conn.close()
    before = db.read_bytes()
    for command in ("trials", "export", "report"):
        code, _, err = cli(capsys, command, "tiny", "--storage", f"sqlite:///{db}")
        assert code == 2
        one_error_line(err, "is not an Optuna study database")
    optuna_only = tmp_path / "optuna.db"
    optuna.create_study(study_name="plain", storage=f"sqlite:///{optuna_only}")
    plain = optuna_only.read_bytes()
    code, _, err = cli(capsys, "export", "plain", "--storage", f"sqlite:///{optuna_only}")
    assert code == 2
    one_error_line(err, "was not made by tuner")
    assert db.read_bytes() == before and optuna_only.read_bytes() == plain
    assert sorted(p.name for p in tmp_path.iterdir()) == ["optuna.db", "other.db"]  # no -wal, no -shm, no lock


ROWS = "t,y\n" + "".join(f"{i},{i % 7}\n" for i in range(50))


@pytest.mark.parametrize("content, expected", [
    (ROWS + "50,inf\n", "'inf' in data row 51"),
    (ROWS + "50,1e400\n", "in data row 51, which is not a finite number"),
    (ROWS + ",3\n", "time column 't' of"),
    ("t,y\n2020-01-01T00:00+01:00,1\n2020-01-02T00:00+02:00,2\n2020-01-03T00:00Z,3\n", "one time zone"),
])
def test_bad_values_in_a_csv_are_refused_with_the_row(tiny_study, tmp_path, capsys, content, expected):
    csv = tmp_path / "data.csv"
    csv.write_text(content)
    path = tiny_study(n_trials=2, search=SEARCH)
    path.write_text(path.read_text().replace('dataset = "sine"', f'dataset = "csv"\npath = "{csv}"\ntarget = "y"\n'
                                                                 f'time = "t"'))
    code, _, err = cli(capsys, "tune", path, "-q")
    assert code == 2
    one_error_line(err, expected)
    assert not (tmp_path / "tiny.db").exists()


def test_damaged_model_folders(finished, tmp_path, capsys):
    code, _, err = cli(capsys, "export", finished, "-o", tmp_path / "best.toml")
    assert code == 0, err
    model = tmp_path / "model"
    assert cli(capsys, "train", tmp_path / "best.toml", "-o", model)[0] == 0
    data = tmp_path / "new.csv"
    data.write_text("t,value\n" + "".join(f"{i},{np.sin(i / 4):.4f}\n" for i in range(40)))
    assert cli(capsys, "predict", model, "--data", data)[0] == 0

    def damaged(name, change):
        folder = tmp_path / name
        subprocess.run(["cp", "-r", model, folder], check=True)
        change(folder)
        return folder

    def linked(folder):  # a member named plainly, but a symlink to a model outside the ensemble folder
        folder.mkdir()
        (folder / "one").symlink_to(model)
        (folder / "ensemble.json").write_text('{"format": "tuner.Ensemble/1", "members": ["one"]}')
        return folder

    def claim_hidden(folder):
        meta = json.loads((folder / "model.json").read_text())
        (folder / "model.json").write_text(json.dumps({**meta, "hidden_size": 20000}))

    def object_array(folder):
        arrays = dict(np.load(folder / "model.npz"))
        arrays["V"] = np.empty(arrays["V"].shape, dtype=object)
        np.savez(folder / "model.npz", **arrays)

    cases = [
        (damaged("truncated", lambda f: (f / "model.npz").write_bytes((model / "model.npz").read_bytes()[:300])),
         "is damaged"),
        (damaged("objects", object_array), "parameter V is a object array"),
        (damaged("json", lambda f: (f / "model.json").write_text('{"format": ')), "is not valid JSON"),
        (damaged("self", lambda f: (f / "ensemble.json").write_text('{"members": ["."]}')),
         "each must be a folder inside"),
        (damaged("up", lambda f: (f / "ensemble.json").write_text('{"members": ["../model"]}')),
         "each must be a folder inside"),
        (damaged("hidden", claim_hidden), "expected floats of shape (60000, 1)"),
        (linked(tmp_path / "linked"), "is a link to"),
    ]
    for folder, expected in cases:
        code, _, err = cli(capsys, "predict", folder, "--data", data)
        assert code == 2, folder
        one_error_line(err, expected)
    code, _, err = cli(capsys, "predict", model, "--data", data, "-o", tmp_path)
    assert code == 2
    one_error_line(err, "is a directory")


def test_json_and_toml_errors_name_their_format(tmp_path, capsys):
    for name, text, expected in [("a.json", '{"study": ', "is not valid JSON"), ("b.json", "[1, 2]",
                                 "is not valid JSON: the document is a list"), ("c.toml", "[study", "not valid TOML"),
                                 ("d.yaml", "- 1\n- 2\n", "is not valid YAML: the document is a list"),
                                 ("e.json", "[" * 100000 + "]" * 100000, "is not valid JSON")]:
        (tmp_path / name).write_text(text)
        code, _, err = cli(capsys, "tune", tmp_path / name)
        assert code == 2, name
        one_error_line(err, expected)


def mount_tmpfs(folder, size: str) -> bool:
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        if os.environ.get("CI") == "true":
            raise AssertionError(f"CI runs as root and must be able to mount a tmpfs: {done.stderr!r}")
        return False
    return True


@pytest.mark.skipif(sys.platform != "linux" or os.geteuid() != 0, reason="needs root to mount a small disk")
@pytest.mark.slow
def test_a_read_only_or_full_disk_is_one_line_and_leaves_no_trial_running(tiny_study, tmp_path, capsys):
    disk = tmp_path / "disk"
    if not mount_tmpfs(disk, "24m"):
        pytest.skip("cannot mount a tmpfs here")
    try:
        path = tiny_study(n_trials=2, epochs=2, search=SEARCH)
        url = f"sqlite:///{disk / 'tiny.db'}"

        def tune(n):  # a process of its own: this one must hold no connection to the disk
            done = subprocess.run([BIN / "tuner", "tune", path, "-q", "--storage", url, "--n-trials", str(n)],
                                  capture_output=True, text=True, timeout=300)
            return done.returncode, done.stderr

        assert tune(2)[0] == 0
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        code, err = tune(3)
        assert code == 2
        one_error_line(err, "cannot write the study database")
        subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        filler = disk / "filler"
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1M", "count=64"], capture_output=True)
        code, err = tune(3)
        assert code == 2
        one_error_line(err, "is full")
        filler.unlink()
        trials = trials_of(disk / "tiny.db")
        assert len(trials) == 2 and not [t for t in trials if not t.state.is_finished()]
        assert tune(3)[0] == 0  # space again: the same command resumes
        assert len(trials_of(disk / "tiny.db")) == 3
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
