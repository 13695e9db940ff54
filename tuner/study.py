"""Sampler, pruner and storage from a study spec; run or resume a study; summarise it.

The storage is plain Optuna storage, so `optuna studies --storage URL` and optuna-dashboard read it.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import traceback
import warnings
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy.pool import NullPool
from threadpoolctl import threadpool_limits

from .config import Choice, StudySpec, to_doc
from .errors import ConfigError, Interrupted, TunerError
from .objective import Objective, standard_error

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
STORAGE_ATTEMPTS = 3
SQLITE_LOCK_TIMEOUT = 60  # seconds a writer waits for another's lock before SQLite says "database is locked"


def mask(url: str) -> str:
    """The storage URL without its password, for printing."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a SQLAlchemy URL: nothing we know how to hide
        return url


def open_storage(url: str, heartbeat: int | None = None, grace: int | None = None) -> optuna.storages.BaseStorage:
    """An Optuna RDB storage; SQLite files get a lock timeout and their folder is created. With `heartbeat`,
    running trials send a heartbeat every that many seconds, and one silent for `grace` seconds is failed
    and queued again (RetryHeartbeatStaleTrialCallback): a killed worker loses no trial."""
    engine_kwargs: dict = {}
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs = {"creator": lambda: _sqlite_connection(path)}
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna, and what we need
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                retry = {}
                if heartbeat:
                    retry = {"heartbeat_interval": heartbeat, "grace_period": grace or 3 * heartbeat,
                             "heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(3)}
                return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **retry)
        except Exception as exc:  # SQLAlchemy raises many kinds; each is a storage the user must fix
            error = exc
            if "could not translate host" in str(exc) or "Can't load plugin" in str(exc) or "No module" in str(exc):
                break  # no use waiting
            time.sleep(1 + attempt)  # workers starting together on a new database race to create its tables
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    hint = "; install the driver: pip install 'tuner[postgres]'" if isinstance(error, ModuleNotFoundError) else ""
    raise ConfigError(f"cannot open storage {mask(url)}: {mask_text(reason, url)}{hint}") from None


def _sqlite_connection(path: Path) -> sqlite3.Connection:
    """SQLite as several local workers need it: a writer waits for another's lock instead of failing, and
    commits go to a write-ahead log without an fsync each (WAL, synchronous=NORMAL: a crash of the process
    loses nothing; only a power cut can lose the last commits, never the database). Per-epoch reports were
    9 ms each with an fsync, and most of a small study's time."""
    conn = sqlite3.connect(path, timeout=SQLITE_LOCK_TIMEOUT, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def mask_text(text: str, url: str) -> str:
    """Remove the URL's password from a driver's message too."""
    try:
        from sqlalchemy.engine import make_url

        password = make_url(url).password
    except Exception:
        return text
    return text.replace(password, "***") if password else text


def make_sampler(spec: StudySpec, worker: int = 0) -> optuna.samplers.BaseSampler:
    """Seeded from the study seed; each worker of a parallel run gets its own stream (seed + worker)."""
    seed = spec.seed + worker
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if spec.sampler == "qmc":
        return optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False)
    if spec.sampler == "grid":
        space = {k: list(e.values) for k, e in spec.search.items() if isinstance(e, Choice)}
        return optuna.samplers.GridSampler(space, seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def make_pruner(spec: StudySpec) -> optuna.pruners.BasePruner:
    if spec.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=spec.startup_trials, n_warmup_steps=spec.warmup_epochs)
    if spec.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, spec.warmup_epochs),
                                              max_resource=spec.cv.folds * spec.train.epochs)
    return optuna.pruners.NopPruner()


def open_study(spec: StudySpec, storage: str | None = None, worker: int = 0) -> optuna.Study:
    url = spec.storage_url(storage)
    backend = open_storage(url, spec.heartbeat, spec.grace_period)
    return optuna.create_study(study_name=spec.name, storage=backend, sampler=make_sampler(spec, worker),
                               pruner=make_pruner(spec), direction="minimize", load_if_exists=True)


def counted(trials: list[FrozenTrial]) -> int:
    """Trials that count towards n_trials: results (complete, pruned, failed), and trials running or queued.
    A trial failed because its worker died (and queued again) or because the user interrupted it does not
    count: its retry, or a fresh trial, takes its place."""
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    return sum(1 for t in trials if t.state != TrialState.FAIL
               or (t.number not in retried and not t.user_attrs.get("interrupted")))


def finished(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


class TrialLock:
    """Serialises "count the trials, start the next one" among all workers of a study, so n_trials is exact
    and no queued trial is popped twice: an flock beside a SQLite file (the workers share a machine), a
    PostgreSQL advisory lock keyed by the study name (they may not). SQLite has no row locks: without this,
    two processes popped the same queued trial and one crashed (bench/storage.py)."""

    def __init__(self, url: str, study_name: str = ""):
        self.url, self.key = url, zlib.crc32(study_name.encode())
        self.path = Path(url.removeprefix("sqlite:///") + ".lock") if url.startswith("sqlite:///") else None
        self._fd: int | None = None
        self._conn = None
        self._held = False

    def acquire(self) -> None:
        if self._held:
            return
        if self.path is not None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        elif self.url.startswith("postgresql"):
            if self._conn is None:
                import sqlalchemy

                engine = sqlalchemy.create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
                self._conn = engine.connect()
            self._conn.exec_driver_sql(f"SELECT pg_advisory_lock({self.key})")
        self._held = True

    def release(self) -> None:
        if not self._held:
            return
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        elif self._conn is not None:
            self._conn.exec_driver_sql(f"SELECT pg_advisory_unlock({self.key})")
        self._held = False


class StopSignals:
    """Ctrl-C and SIGTERM ask the run to stop: the running trial ends at its next epoch as FAIL (marked
    interrupted, so it does not count), finished trials are kept, and the exit code is 128 + signal."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame) -> None:
        self.signal = signum

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    @property
    def stopped(self) -> bool:
        return self.signal is not None

    @property
    def exit_code(self) -> int:
        return 128 + self.signal if self.signal else 0


class RecordErrors:
    """Wraps the objective: an unexpected error ends its trial as FAIL with the error stored on the trial
    (Optuna only logs it), and the study goes on."""

    def __init__(self, objective: Objective):
        self.objective = objective

    def __call__(self, trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        try:
            return self.objective(trial)
        except optuna.TrialPruned:
            raise
        except Interrupted:
            trial.set_user_attr("interrupted", True)
            trial.set_user_attr("fail_reason", "interrupted by the user")
            raise
        except Exception as exc:
            if "fail_reason" not in trial.user_attrs:
                where = traceback.extract_tb(exc.__traceback__)[-1]
                trial.set_user_attr("fail_reason", f"{type(exc).__name__}: {exc} ({Path(where.filename).name}:"
                                                   f"{where.lineno})")
            raise


class Progress:
    """A tqdm bar over the study's total: trials done / target, best so far, elapsed."""

    def __init__(self, study: optuna.Study, target: int, enabled: bool = True):
        from tqdm import tqdm

        self.study = study
        self.bar = tqdm(total=target, initial=min(finished(study), target), desc=study.study_name, unit="trial",
                        disable=not enabled, file=sys.stderr, dynamic_ncols=True)
        self.refresh()

    def refresh(self, *_: object) -> None:
        self.bar.n = min(finished(self.study), self.bar.total)
        try:
            self.bar.set_postfix_str(f"best {self.study.best_value:.5g}", refresh=False)
        except ValueError:  # no complete trial yet
            pass
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


@dataclass
class RunResult:
    study: optuna.Study
    spec: StudySpec
    storage: str
    seconds: float
    ran: int
    exit_code: int = 0


def work(spec: StudySpec, url: str, target: int, worker: int = 0, timeout: float | None = None,
         stop: StopSignals | None = None, on_trial=None, objective: Objective | None = None) -> optuna.Study:
    """One worker: start trials until the study counts `target`, then wait for the other workers' running
    trials (retrying any whose worker died) so that none is left RUNNING. Workers on several processes or
    machines share the count through the storage."""
    study = open_study(spec, url, worker)
    objective = objective or Objective(spec)
    objective.should_stop = lambda: stop is not None and stop.stopped
    run_trials(study, RecordErrors(objective), target, TrialLock(url, spec.name), timeout, stop, on_trial)
    return study


def run_trials(study: optuna.Study, objective, target: int, lock: TrialLock, timeout: float | None = None,
               stop: StopSignals | None = None, on_trial=None) -> None:
    """The worker loop, apart from what the trials compute (bench/storage.py times it with empty trials)."""
    deadline = time.monotonic() + timeout if timeout else None
    while not (stop and stop.stopped) and not (deadline and time.monotonic() > deadline):
        lock.acquire()
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


POLL_SECONDS = 1.0


def run(spec: StudySpec, n_trials: int | None = None, storage: str | None = None, timeout: float | None = None,
        progress: bool = True, workers: int = 1) -> RunResult:
    """Run the study until it holds n_trials trials (the total, not another n): a rerun resumes."""
    target = n_trials or spec.n_trials
    objective = Objective(spec)
    objective.data(spec.data)  # bad data fails here, before any storage is touched
    url = spec.storage_url(storage)
    study = open_study(spec, url)
    study.set_user_attr("spec", to_doc(spec))  # so export, trials and report work from the study name alone
    study.set_user_attr("spec_path", spec.path)
    before = len(study.get_trials(deepcopy=False))
    started = time.perf_counter()
    bar = Progress(study, target, progress)
    with StopSignals() as stop:
        helpers = start_workers(spec, url, target, workers - 1, timeout or spec.timeout)
        try:
            with threadpool_limits(1):  # small matmuls run faster on one BLAS thread; workers share the cores
                work(spec, url, target, 0, timeout or spec.timeout, stop, on_trial=bar.refresh, objective=objective)
        finally:
            wait_workers(helpers, stop, bar)
            bar.refresh()
            bar.close()
    ran = len(study.get_trials(deepcopy=False)) - before
    return RunResult(study, spec, url, time.perf_counter() - started, ran, stop.exit_code)


def start_workers(spec: StudySpec, url: str, target: int, n: int, timeout: float | None) -> list[subprocess.Popen]:
    """n more `tuner worker` processes on the same study; this process is worker 0."""
    command = [sys.executable, "-m", "tuner", "worker", spec.path, "--storage", url, "--n-trials", str(target)]
    if timeout:
        command += ["--timeout", str(timeout)]
    return [subprocess.Popen(command + ["--worker-index", str(i)], stdin=subprocess.DEVNULL) for i in range(1, n + 1)]


def wait_workers(procs: list[subprocess.Popen], stop: StopSignals, bar: Progress) -> None:
    """Wait for the other workers, the bar following the storage. A stop reaches every worker: Ctrl-C
    reaches the whole process group, a SIGTERM to this process is passed on."""
    forwarded = False
    while any(p.poll() is None for p in procs):
        if stop.stopped and not forwarded:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            forwarded = True
        bar.refresh()
        time.sleep(0.5)
    failed = [p.returncode for p in procs if p.returncode not in (0, 130, 143)]
    if failed and not stop.stopped:
        raise TunerError(f"{len(failed)} of {len(procs) + 1} workers exited with an error (codes {failed}); "
                         f"rerun the same command to finish the study")


def summary(result: RunResult) -> str:
    """What a user wants to see at the end: best trial with its error bar, baselines, where things are."""
    study, spec = result.study, result.spec
    trials = study.get_trials(deepcopy=False)
    states = Counter(t.state.name for t in trials)
    lines = [f"study {spec.name!r}: {len(trials)} trials ("
             + ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items())) + f"), this run {result.ran} in "
             f"{result.seconds:.1f}s"]
    reasons = Counter(t.user_attrs.get("fail_reason", "unknown").split(":")[0]  # the kind, not the details
                      for t in trials if t.state == TrialState.FAIL)
    for reason, n in reasons.most_common():
        lines.append(f"  failed: {n} x {reason}")
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        lines.append("no complete trial yet: nothing to report")
        return "\n".join(lines)
    best = study.best_trial
    folds = best.user_attrs.get("fold_mse", [])
    lines.append(f"best: trial {best.number}, validation MSE {best.value:.5g} ± {best.user_attrs.get('mse_sem', 0):.2g}"
                 f" (mean ± standard error over {len(folds)} folds, original units)")
    lines.append("  params: " + ", ".join(f"{k}={_fmt(v)}" for k, v in best.params.items()))
    lines.append("  per fold: " + ", ".join(f"{v:.5g}" for v in folds))
    baselines = best.user_attrs.get("baselines", {})
    for name, values in baselines.items():
        mean = float(np.mean(values))
        verdict = "RNN better" if best.value < mean else "baseline better"
        lines.append(f"  baseline {name:<11} {mean:.5g} ± {standard_error(values):.2g}   ({verdict})")
    url = mask(result.storage)
    study_file = spec.path or f"studies/{spec.name}.toml"
    lines += [f"storage: {url}",
              f"dashboard: optuna-dashboard {url}",
              f"export: tuner export {study_file} -o best.toml"]
    return "\n".join(lines)


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


__all__ = ["Interrupted", "RunResult", "counted", "finished", "mask", "open_storage", "open_study", "run", "summary",
           "work"]
