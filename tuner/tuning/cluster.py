"""tuner tune --dask: the study's trials on a Dask cluster (`dask scheduler` / `dask worker`, dask-jobqueue on
SLURM or PBS, the Dask Kubernetes operator), or on a local one (`--dask local:N`).

The study's storage (its SQLite file by default, or PostgreSQL) is opened once, on the scheduler, through
optuna-integration's DaskStorage, so workers on other machines need no database of their own. Each Dask
worker runs one task: the same worker loop as `tuner worker` (study.run_trials), with a cluster-wide
distributed.Lock as the next-trial lock, so the study still ends at exactly n_trials. This process only
watches: it draws the progress bar, fails and queues again a trial whose Dask worker left the cluster (or,
when the scheduler goes, every trial of this run still RUNNING), and on Ctrl-C tells every task to stop (each
ends its trial at the next epoch, as FAIL, not counted). Each task stamps its running trial's heartbeat
itself, so whatever dies, a later run retries what was left RUNNING.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import socket
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from ..config.spec import StudySpec
from ..data.datasets import DATASETS
from ..errors import ConfigError, TunerError
from ..redact import mask
from .control import Progress, StopSignals
from .liveness import fail_and_retry
from .objective import Objective
from .runner import RecordErrors, RunResult, join, preflight, run_trials
from .storage import open_storage, sqlite_path

STOP_EVERY = 0.5  # seconds between a task's looks at the stop event (each is a round trip to the scheduler)


def _imports() -> Any:
    try:
        import distributed
        import optuna_integration  # noqa: F401
    except ImportError:
        raise ConfigError("--dask needs dask, distributed and optuna-integration: pip install 'tuner[dask]'") from None
    return distributed


def connect(target: str) -> tuple[Any, Any]:
    """A client for `target`: "local:N" starts a local cluster of N single-threaded worker processes, anything
    else is a scheduler address (tcp://HOST:8786). Returns (client, cluster or None)."""
    distributed = _imports()
    for name in [n for n in logging.root.manager.loggerDict if n.split(".")[0] == "distributed"] + ["distributed"]:
        logging.getLogger(name).setLevel(logging.CRITICAL)  # its reconnect errors: tuner says it in one line
    warnings.filterwarnings("ignore", message="DaskStorage is experimental")
    if target.startswith("local:"):
        n = target.removeprefix("local:")
        if not n.isdigit() or not 1 <= int(n) <= 256:
            raise ConfigError(f"--dask local:N needs a number of workers from 1 to 256, got {target!r}")
        cluster = distributed.LocalCluster(n_workers=int(n), threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=50)
        return distributed.Client(cluster), cluster
    try:
        return distributed.Client(target, timeout=5), None
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {target}: {exc}; start one with `dask scheduler`, "
                          f"or use --dask local:N") from None


class DaskLock:
    """The next-trial lock (storage.TrialLock's interface) for workers on many machines: a distributed.Lock."""

    def __init__(self, name: str):
        import distributed

        self._lock = distributed.Lock(f"tuner-next-trial-{name}")  # on the scheduler of the current client
        self._held = False

    def acquire(self) -> None:
        if not self._held:
            self._lock.acquire()
            self._held = True

    def release(self) -> None:
        if self._held:
            self._lock.release()
            self._held = False

    def __enter__(self) -> DaskLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class DaskStop:
    """StopSignals' `stopped` for a task: the client sets a distributed.Event; a task looks at most every
    STOP_EVERY seconds, so an epoch does not wait on the scheduler."""

    def __init__(self, name: str):
        import distributed

        self._event = distributed.Event(f"tuner-stop-{name}")
        self._seen, self._last = False, 0.0

    @property
    def stopped(self) -> bool:
        now = time.monotonic()
        if not self._seen and now - self._last > STOP_EVERY:
            self._last = now
            self._seen = bool(self._event.is_set())
        return self._seen


class Heartbeats(RecordErrors):
    """RecordErrors that stamps the running trial every `every` seconds: system attributes heartbeat_at (this
    machine's clock) and heartbeat_grace. Optuna's own heartbeats need an RDB storage in the worker, and a
    Dask task writes through DaskStorage; with these, any later run (study.reap_dead_workers) retries a trial
    whose task went silent, whether its worker, its scheduler or this whole run died."""

    def __init__(self, *args: Any, every: int, grace: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.every, self.grace = every, grace

    def __call__(self, trial: Any) -> float:
        if not self.every:
            return super().__call__(trial)
        storage, trial_id = trial.study._storage, trial._trial_id
        storage.set_trial_system_attr(trial_id, "heartbeat_grace", self.grace)
        storage.set_trial_system_attr(trial_id, "heartbeat_at", time.time())
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self.every):
                with contextlib.suppress(Exception):  # the trial finished meanwhile, or the scheduler is gone
                    storage.set_trial_system_attr(trial_id, "heartbeat_at", time.time())

        thread = threading.Thread(target=beat, daemon=True)
        thread.start()
        try:
            return super().__call__(trial)
        finally:
            done.set()
            thread.join()


def _task(spec: StudySpec, storage_name: str, run_id: str, digest: str | None, target: int,
          timeout: float | None) -> int:
    """One Dask worker's part: join the study and run trials until it counts `target` (the client checked the
    study's meaning already). Returns how many trials this task ran."""
    import distributed
    from optuna_integration import DaskStorage
    from threadpoolctl import threadpool_limits

    warnings.filterwarnings("ignore", message="DaskStorage is experimental")

    objective = Objective(spec)
    objective.check()
    storage = DaskStorage(name=storage_name, register=False)
    study, key, lock = join(spec, "", digest, None, storage=storage, lock=DaskLock(spec.name))
    stop = DaskStop(run_id)
    objective.should_stop = lambda: stop.stopped
    before = len(study.get_trials(deepcopy=False))
    recorder = Heartbeats(objective, key, extra={"dask_worker": distributed.get_worker().address,
                                                 "dask_run": run_id}, every=spec.heartbeat,
                          grace=spec.grace_period)
    with threadpool_limits(1):
        run_trials(study, recorder, target, lock, timeout, stop)  # type: ignore[arg-type]
    return len(study.get_trials(deepcopy=False)) - before


def _portable(spec: StudySpec) -> StudySpec:
    """The spec as a task on another process or machine needs it: a CSV path made absolute (a worker's working
    directory is its own)."""
    if DATASETS[spec.data.dataset].reads_file and spec.data.path and Path(spec.data.path).exists():
        return dataclasses.replace(spec, data=dataclasses.replace(spec.data, path=str(Path(spec.data.path).resolve())))
    return spec


def _make_tables(url: str) -> None:
    """Create the storage's tables from here when this machine reaches it (open_storage waits out a race with
    another process creating them; the scheduler's plain Optuna storage would fail on it)."""
    path = sqlite_path(url)
    if path is not None and not path.parent.is_dir():
        return  # a path on the scheduler's machine only: the scheduler creates them
    with contextlib.suppress(TunerError):
        open_storage(url)


def _absolute(url: str) -> str:
    path = sqlite_path(url)
    return f"sqlite:///{path.resolve()}" if path is not None else url


def run_dask(spec: StudySpec, url: str, target: int, dask: str, timeout: float | None, progress: bool) -> Any:
    """Run the study on the Dask cluster `dask` until it counts `target` trials; returns a study.RunResult."""
    from optuna_integration import DaskStorage

    _, digest = preflight(spec, url)  # bad data, sizes, a changed study: one line here, before the cluster
    client, cluster = connect(dask)
    run_id = f"{spec.name}-{socket.gethostname()}-{time.time_ns()}"
    started, since = time.perf_counter(), time.time()
    try:
        workers = list(client.scheduler_info()["workers"])
        if not workers:
            raise TunerError(f"the Dask cluster at {dask} has no workers; start some with `dask worker {dask}`")
        _make_tables(url)
        try:
            storage = DaskStorage(storage=_absolute(url), client=client)
        except Exception as exc:  # raised on the scheduler: a driver, a path, a database it cannot open
            raise ConfigError(f"the Dask scheduler cannot open storage {mask(url)}: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
        study, _, _ = join(spec, url, digest, 0, storage=storage, lock=DaskLock(spec.name))
        before = len(study.get_trials(deepcopy=False))
        portable = _portable(spec)
        futures = [client.submit(_task, portable, storage.name, run_id, digest, target, timeout or spec.timeout,
                                 pure=False, workers=[w], allow_other_workers=True, retries=3) for w in workers]
        bar = Progress(study, target, progress)
        import distributed

        stop_event = distributed.Event(f"tuner-stop-{run_id}", client=client)
        with StopSignals() as stop:
            try:
                while not all(f.done() for f in futures):
                    if stop.stopped and not stop_event.is_set():
                        stop_event.set()
                    _reap_lost(study, set(client.scheduler_info()["workers"]))
                    bar.refresh()
                    time.sleep(0.5)
                gone = any(f.status in ("cancelled", "lost") for f in futures) or client.status != "running"
                if not gone:
                    errors = [f.exception() for f in futures if f.status == "error"]
                    # a copy of the study, readable once the cluster is gone (the summary reads it after)
                    local = optuna.load_study(study_name=spec.name, storage=storage.get_base_storage())
            except (OSError, distributed.comm.core.CommClosedError, TimeoutError, RuntimeError):
                gone = True
            finally:
                with contextlib.suppress(Exception):  # the storage may be gone with the scheduler
                    bar.refresh()
                bar.close()
        if gone:
            _fail_orphans(url, spec.name, run_id, since)
            raise TunerError(f"lost the Dask scheduler at {dask}; every finished trial is kept in {mask(url)}: "
                             f"rerun the same command to resume")
        if errors and not stop.stopped:
            first = errors[0]
            raise TunerError(f"{len(errors)} of {len(futures)} Dask tasks failed ({type(first).__name__}: {first}); "
                             f"finished trials are kept: rerun the same command to finish the study")
        ran = len(local.get_trials(deepcopy=False)) - before
        return RunResult(local, spec, url, time.perf_counter() - started, ran, stop.exit_code)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _fail_orphans(url: str, name: str, run_id: str, since: float) -> None:
    """With the scheduler gone, nothing can finish this run's RUNNING trials (their storage went with it): fail
    them and queue them again, straight in the study's storage when this machine reaches it, so the next run
    (on any cluster or none) neither waits for them nor loses them. This run's trials: those tagged with it,
    and those begun since it started whose worker had not yet named itself (the scheduler died in between;
    a trial's tags are its first writes, RecordErrors)."""
    with contextlib.suppress(Exception):  # a database only the scheduler's machine reaches: nothing to do here
        study = optuna.load_study(study_name=name, storage=open_storage(url))
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            began = t.datetime_start.timestamp() if t.datetime_start else since
            if t.user_attrs.get("dask_run") == run_id or ("worker" not in t.user_attrs and began >= since - 1):
                fail_and_retry(study, t, "the Dask scheduler of its run went away")


def _reap_lost(study: Any, alive: set[str]) -> None:
    """Fail, and queue again, every RUNNING trial whose Dask worker has left the cluster (killed, or its
    machine gone): it would otherwise stay RUNNING for ever, and the study would never reach n_trials."""
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = t.user_attrs.get("dask_worker")
        if worker and worker not in alive:
            fail_and_retry(study, t, f"its Dask worker {worker} left the cluster")


__all__ = ["DaskLock", "connect", "run_dask"]
