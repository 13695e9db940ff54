"""Run or resume a study: the checks before the first trial and the worker loop (the next-trial lock, errors
recorded). Stop signals and the bar: control.py; which trials count and which workers are dead: liveness.py;
the helper processes of --workers: workers.py.

The storage is plain Optuna storage, so `optuna studies --storage URL` and optuna-dashboard read it.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import sys
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState
from sqlalchemy.exc import SQLAlchemyError
from threadpoolctl import threadpool_limits

from ..config.search import make_pruner, make_sampler
from ..config.spec import StudySpec
from ..errors import DivergenceError, Interrupted, ParamsError, TunerError
from ..redact import mask
from .control import Progress, StopSignals
from .liveness import counted, counts, finished, reap_dead_workers
from .meaning import check_same_meaning, data_digest, record, start_fresh
from .objective import Objective
from .storage import TrialLock, check_writable, open_reader, open_storage, sqlite_path, storage_failed
from .workers import start_workers, wait_workers

MAX_ENVIRONMENT_FAILURES = 3  # trials in a row failed for a reason that is not their parameters: stop


def open_study(spec: StudySpec, storage: str | None = None, worker: int = 0) -> optuna.Study:
    url = spec.storage_url(storage)
    backend = open_storage(url, spec.heartbeat, spec.grace_period)
    return optuna.create_study(study_name=spec.name, storage=backend, sampler=make_sampler(spec, worker),
                               pruner=make_pruner(spec), direction="minimize", load_if_exists=True)


def existing_attrs(spec: StudySpec, url: str) -> dict | None:
    """The user attributes of the study if the storage already holds it, read without writing anything."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return None
    backend = open_reader(url) if path is not None else open_storage(url)
    try:
        return optuna.load_study(study_name=spec.name, storage=backend).user_attrs
    except KeyError:  # no such study yet
        return None
    except SQLAlchemyError as exc:
        raise storage_failed(exc, url) from None


def preflight(spec: StudySpec, url: str, objective: Objective | None = None) -> tuple[Objective, str | None]:
    """Everything that can be checked before the first trial, so a bad environment costs no trial: the data
    loads and windows, the smallest model the search can draw fits in memory, and the study in the storage
    (if any) means the same as this spec. Writes nothing."""
    objective = objective or Objective(spec)
    objective.check()
    check_writable(url)
    digest = data_digest(spec)
    attrs = existing_attrs(spec, url)
    if attrs is not None:
        check_same_meaning(spec.name, attrs, spec, digest, mask(url))
    return objective, digest


def claim_worker_index(study: optuna.Study, lock: TrialLock) -> int:
    """The next free worker index of the study (0 for its first worker ever): two runs started on one study
    at once never share a sampler seed, and a study's first run is reproducible."""
    with lock:
        index = int(study.user_attrs.get("workers_started", 0))
        study.set_user_attr("workers_started", index + 1)
    return index


class RecordErrors:
    """Wraps the objective: records which worker and spec version ran each trial, and why a trial failed and
    whose fault it was (`fail_kind`: "params" counts towards n_trials, "environment" does not). Optuna only
    logs errors; here they are stored on the trial and the study goes on."""

    def __init__(self, objective: Objective, spec_key: str = "", extra: dict[str, Any] | None = None):
        self.objective = objective
        self.spec_key = spec_key
        self.extra = extra or {}  # more attributes for every trial (a Dask run: which Dask worker ran it)
        self.failures_in_a_row = 0  # trials failed for reasons that are not their parameters
        self.last_reason = ""
        self.storage_error: BaseException | None = None

    def __call__(self, trial: optuna.Trial) -> float:
        for name, value in self.extra.items():  # first: a Dask run knows its trials by them (cluster.py)
            trial.set_user_attr(name, value)
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        if self.spec_key:
            trial.set_user_attr("spec", self.spec_key)
        try:
            value = self.objective(trial)
        except optuna.TrialPruned:
            self.failures_in_a_row = 0
            raise
        except Interrupted:
            self._fail(trial, "environment", "interrupted by the user", interrupted=True)
            raise
        except (SQLAlchemyError, sqlite3.Error) as exc:  # the storage itself: nothing more can be recorded
            self.storage_error = exc
            raise
        except (DivergenceError, ParamsError) as exc:
            self._fail(trial, "params", str(exc))
            raise
        except Exception as exc:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            reason = f"{type(exc).__name__}: {exc} ({Path(where.filename).name}:{where.lineno})"
            kind = "params" if trial.user_attrs.get("fail_kind") == "params" else "environment"
            self._fail(trial, kind, reason)
            raise
        self.failures_in_a_row = 0
        return value

    def _fail(self, trial: optuna.Trial, kind: str, reason: str, interrupted: bool = False) -> None:
        self.failures_in_a_row = self.failures_in_a_row + 1 if kind == "environment" and not interrupted else 0
        self.last_reason = trial.user_attrs.get("fail_reason", reason)
        try:
            if interrupted:
                trial.set_user_attr("interrupted", True)
            if "fail_reason" not in trial.user_attrs:
                trial.set_user_attr("fail_reason", reason)
            trial.set_user_attr("fail_kind", kind)
        except (SQLAlchemyError, sqlite3.Error) as exc:
            self.storage_error = exc


@dataclass
class RunResult:
    study: optuna.Study
    spec: StudySpec
    storage: str
    seconds: float
    ran: int
    exit_code: int = 0


def work(spec: StudySpec, url: str, target: int, worker: int | None = None, timeout: float | None = None,
         stop: StopSignals | None = None, on_trial=None, objective: Objective | None = None,
         checked: tuple[Objective, str | None] | None = None) -> optuna.Study:
    """One worker: check what can be checked, then start trials until the study counts `target`, then wait for
    the other workers' running trials (retrying any whose worker died) so that none is left RUNNING. Workers
    on several processes or machines share the count through the storage. `worker` seeds the sampler
    (default: the study's next free index)."""
    objective, digest = checked or preflight(spec, url, objective)
    study, key, lock = join(spec, url, digest, worker)
    objective.should_stop = lambda: stop is not None and stop.stopped
    run_trials(study, RecordErrors(objective, key), target, lock, timeout, stop, on_trial, url=url)
    return study


def join(spec: StudySpec, url: str, digest: str | None, worker: int | None, storage: Any = None,
         lock: Any = None) -> tuple[optuna.Study, str, Any]:
    """Open (or create) the study, record this version of its spec, and seed this worker's sampler (`worker`,
    or the study's next free index). Returns the study, the version's key and the next-trial lock. A Dask
    run (cluster.py) passes the storage on its scheduler and a cluster-wide lock."""
    lock = lock or TrialLock(url, spec.name)
    try:
        study = open_study(spec, url) if storage is None else optuna.create_study(
            study_name=spec.name, storage=storage, sampler=make_sampler(spec), pruner=make_pruner(spec),
            direction="minimize", load_if_exists=True)
        key = record(study, spec, digest)
        study.sampler = make_sampler(spec, claim_worker_index(study, lock) if worker is None else worker)
    except SQLAlchemyError as exc:
        raise storage_failed(exc, url) from None
    return study, key, lock


def run_trials(study: optuna.Study, objective, target: int, lock: TrialLock, timeout: float | None = None,
               stop: StopSignals | None = None, on_trial=None, url: str = "") -> None:
    """The worker loop, apart from what the trials compute (bench/storage.py times it with empty trials).
    Stops with one line when the storage fails or when trials keep failing for reasons that are not their
    parameters (a missing file, a bug): failing the rest of the budget would tell the user nothing more."""
    deadline = time.monotonic() + timeout if timeout else None
    try:
        while not (stop and stop.stopped) and not (deadline and time.monotonic() > deadline):
            if url:
                check_writable(url)  # a disk that filled up since the last trial
            lock.acquire()
            trials = study.get_trials(deepcopy=False)
            if reap_dead_workers(study, trials):
                trials = study.get_trials(deepcopy=False)
            waiting = any(t.state == TrialState.WAITING for t in trials)
            if not waiting and counted(trials) >= target:  # nothing queued to run, nothing new to start
                lock.release()
                if not any(t.state == TrialState.RUNNING for t in trials):
                    break
                time.sleep(POLL_SECONDS)  # another worker's trial runs: wait, and retry it if its worker died
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    optuna.storages.fail_stale_trials(study)
                continue

            def start(trial: optuna.Trial) -> float:
                lock.release()  # the trial exists and counts now: let the next worker in
                return objective(trial)

            try:
                study.optimize(start, n_trials=1, catch=(Exception,), gc_after_trial=False,
                               callbacks=[on_trial] if on_trial else None)
            finally:
                lock.release()
            if getattr(objective, "storage_error", None) is not None:
                raise objective.storage_error
            if getattr(objective, "failures_in_a_row", 0) >= MAX_ENVIRONMENT_FAILURES:
                raise TunerError(f"{objective.failures_in_a_row} trials in a row failed for a reason that is not "
                                 f"their parameters ({objective.last_reason}); they do not count towards n_trials: "
                                 f"fix the cause and rerun the same command")
    except (SQLAlchemyError, sqlite3.Error) as exc:
        raise storage_failed(exc, url or "the storage") from None


POLL_SECONDS = 1.0


def run(spec: StudySpec, n_trials: int | None = None, storage: str | None = None, timeout: float | None = None,
        progress: bool = True, workers: int = 1, fresh: bool = False) -> RunResult:
    """Run the study until it holds n_trials trials (the total, not another n): a rerun resumes. With `fresh`,
    an existing study of the same name is kept as NAME-N and this one starts over."""
    target = n_trials or spec.n_trials
    url = spec.storage_url(storage)
    objective = Objective(spec)
    if fresh:
        objective.check()  # nothing is moved for a spec that cannot run
        check_writable(url)
        try:
            archived = start_fresh(open_storage(url), spec.name)
        except SQLAlchemyError as exc:
            raise storage_failed(exc, url) from None
        if archived:
            print(f"kept the old trials of {spec.name!r} as study {archived!r}; starting over", file=sys.stderr)
    checked = preflight(spec, url, objective)  # bad data, sizes or a changed study fail here, before any write
    study, key, lock = join(spec, url, checked[1], None)  # before the helpers: a first run is worker 0
    before = len(study.get_trials(deepcopy=False))
    started = time.perf_counter()
    if workers > 1 and spec.compare:
        objective.baselines()  # the statistical models fitted once, here: the forked workers inherit them
    bar = Progress(study, target, progress)
    with StopSignals() as stop:
        helpers = start_workers(spec, url, target, workers - 1, timeout or spec.timeout,
                                lambda: _forked_work(spec, url, target, timeout or spec.timeout, checked))
        try:
            with threadpool_limits(1):  # small matmuls run faster on one BLAS thread; workers share the cores
                objective.should_stop = lambda: stop.stopped
                run_trials(study, RecordErrors(objective, key), target, lock, timeout or spec.timeout, stop,
                           bar.refresh, url=url)
        finally:
            wait_workers(helpers, lambda: stop.stopped, bar.refresh)
            bar.refresh()
            bar.close()
    ran = len(study.get_trials(deepcopy=False)) - before
    return RunResult(study, spec, url, time.perf_counter() - started, ran, stop.exit_code)


def _forked_work(spec: StudySpec, url: str, target: int, timeout: float | None,
                 checked: tuple[Objective, str | None]) -> int:
    """A forked helper's life (workers.ForkedWorker): the worker loop on the parent's prepared data."""
    with StopSignals() as stop, threadpool_limits(1):
        work(spec, url, target, None, timeout, stop, checked=checked)
    return stop.exit_code


__all__ = ["RunResult", "counted", "counts", "finished", "open_study", "preflight", "run", "work"]
