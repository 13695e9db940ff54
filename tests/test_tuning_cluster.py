"""tune --dask against a real cluster started from the command line (`dask scheduler`, `dask worker`): exactly
n_trials, a worker killed mid-trial costs only that trial, Ctrl-C of the client stops the run cleanly."""

import os
import signal
import socket
import subprocess
import textwrap
import time

import optuna
import pytest
from conftest import BIN, TINY
from sqlalchemy.exc import SQLAlchemyError

from tuner.errors import ConfigError
from tuner.tuning.storage import open_reader

pytestmark = pytest.mark.slow

LONG = TINY.format(name="{name}", n_trials="{n_trials}", seed=0, epochs=200, startup=2, warmup=2,
                   search="learning_rate = {{low = 1e-3, high = 1e-2, log = true}}").replace("patience = 3",
                                                                                            "patience = 0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two single-threaded workers without nannies (a kill -9 ends the worker for good)."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    procs = [subprocess.Popen([BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--dashboard-address", ":0"], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    procs += [subprocess.Popen([BIN / "dask", "worker", address, "--nthreads", "1", "--no-nanny",
                                "--dashboard-address", ":0"], cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    from distributed import Client

    with Client(address, timeout=60) as client:  # ready when both workers have joined, not after fixed sleeps
        client.wait_for_workers(2, timeout=60)
    yield address, procs
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=5)  # scaffolding: a worker still inside a trial is killed rather than waited for
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def study_file(tmp_path, n_trials: int, epochs: int = 200):
    path = tmp_path / "dasked.toml"
    text = LONG.format(name="dasked", n_trials=n_trials)
    path.write_text(textwrap.dedent(text.replace("epochs = 200", f"epochs = {epochs}")))
    return path


def trials(tmp_path):
    """The study's trials; none while the database or the study is still being made."""
    try:  # read-only: creating the tables here would race the run that creates them
        return optuna.load_study(study_name="dasked", storage=open_reader(f"sqlite:///{tmp_path / 'dasked.db'}")
                                 ).trials
    except (KeyError, SQLAlchemyError, ConfigError):
        return []


def start_tuning(path, address: str, tmp_path, state: str, count: int) -> subprocess.Popen:
    """`tuner tune --dask` in the background, returned once `count` of its trials are in `state` (the moment
    a test kills or interrupts something)."""
    client = subprocess.Popen([BIN / "tuner", "tune", str(path), "--dask", address], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and sum(t.state.name == state and "dask_worker" in t.user_attrs
                                         for t in trials(tmp_path)) < count:
        time.sleep(0.5)  # trials() is empty until the run has made the database and the study; a trial names
        # its Dask worker just after it starts (test_trust.py: one whose worker dies before that is retried too)
    return client


def test_a_study_runs_on_the_cluster_to_exactly_n_trials(cluster, tmp_path):
    address, _ = cluster
    path = study_file(tmp_path, 5, epochs=20)
    done = subprocess.run([BIN / "tuner", "tune", str(path), "--dask", address], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    found = trials(tmp_path)
    assert len(found) == 5 and all(t.state.name in ("COMPLETE", "PRUNED") for t in found)
    assert len({t.user_attrs["dask_worker"] for t in found}) == 2  # both workers took trials
    # each stamped its own heartbeats (a later run retries one gone silent: tests/test_trust.py)
    assert all(t.system_attrs["heartbeat_grace"] == 30 and t.datetime_start.timestamp() - 5 <=
               t.system_attrs["heartbeat_at"] <= t.datetime_complete.timestamp() + 5 for t in found)
    listed = subprocess.run([BIN / "optuna", "trials", "--study-name", "dasked", "--storage",
                             f"sqlite:///{tmp_path / 'dasked.db'}", "-f", "json"], capture_output=True, timeout=120)
    assert listed.returncode == 0 and listed.stdout.count(b'"number"') == 5


def test_a_worker_killed_mid_trial_costs_only_that_trial(cluster, tmp_path):
    address, procs = cluster
    path = study_file(tmp_path, 4)
    client = start_tuning(path, address, tmp_path, "RUNNING", 2)
    procs[1].send_signal(signal.SIGKILL)  # a worker gone mid-trial
    out, err = client.communicate(timeout=240)
    assert client.returncode == 0, err
    found = trials(tmp_path)
    counted = [t for t in found if t.state.name in ("COMPLETE", "PRUNED")]
    lost = [t for t in found if t.state.name == "FAIL"]
    assert len(counted) == 4 and not any(t.state.name == "RUNNING" for t in found)
    assert len(lost) == 1 and "left the cluster" in lost[0].user_attrs["fail_reason"]
    assert any(t.user_attrs.get("retry_of") == lost[0].number for t in counted)  # its parameters, retried


def test_ctrl_c_of_the_client_stops_every_task_and_leaves_nothing_running(cluster, tmp_path):
    address, _ = cluster
    path = study_file(tmp_path, 6)
    client = start_tuning(path, address, tmp_path, "RUNNING", 2)
    client.send_signal(signal.SIGINT)
    out, err = client.communicate(timeout=120)
    assert client.returncode == 130, err
    assert "Traceback" not in err
    found = trials(tmp_path)
    assert not any(t.state.name == "RUNNING" for t in found)
    assert all(t.user_attrs.get("interrupted") for t in found if t.state.name == "FAIL")


def test_the_scheduler_going_away_is_one_line_and_keeps_what_finished(cluster, tmp_path):
    address, procs = cluster
    path = study_file(tmp_path, 4)  # one finishes, two are running when the scheduler dies, the rest resume
    path.write_text(path.read_text().replace("[study]", '[study]\npruner = "none"'))
    client = start_tuning(path, address, tmp_path, "COMPLETE", 1)
    procs[0].send_signal(signal.SIGKILL)  # the scheduler
    out, err = client.communicate(timeout=120)
    assert client.returncode == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("tuner: error: lost the Dask scheduler at tcp://127.0.0.1:")
    assert len(err.strip().splitlines()) == 1
    found = trials(tmp_path)
    assert any(t.state.name == "COMPLETE" for t in found)  # what finished is in the study's own database
    assert not any(t.state.name == "RUNNING" for t in found)  # nothing left that no one can finish
    orphans = [t for t in found if "scheduler of its run went away" in t.user_attrs.get("fail_reason", "")]
    assert orphans and all(t.state.name == "FAIL" and any(r.user_attrs.get("retry_of") == t.number for r in found)
               for t in orphans)  # failed and queued again with the same parameters
    for p in procs[1:]:
        p.kill()
    resumed = subprocess.run([BIN / "tuner", "tune", str(path)], capture_output=True, text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stderr  # the same study resumes without the cluster
    assert sum(t.state.name == "COMPLETE" for t in trials(tmp_path)) == 4


def test_a_local_cluster_of_n_workers(tmp_path):
    """--dask local:N: the same, on worker processes tuner starts and stops itself."""
    path = study_file(tmp_path, 4, epochs=10)
    done = subprocess.run([BIN / "tuner", "tune", str(path), "--dask", "local:2", "--json"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found = trials(tmp_path)
    assert len(found) == 4 and len({t.user_attrs["dask_worker"] for t in found}) <= 2
    assert '"trials": 4' in done.stdout and "Traceback" not in done.stderr
