"""Which trials count towards n_trials, and which RUNNING trials have a dead worker: the one place that reads
/proc and Optuna's private trial ids (to fail a trial another process started)."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def counts(trial: FrozenTrial) -> bool:
    """Whether a failed trial counts towards n_trials: only when its parameters made it fail (it diverged, or
    it cannot fit in memory). A data error, a bug, an interrupt or a dead worker is not the parameters' fault:
    a fresh trial takes its place once the cause is fixed."""
    kind = trial.user_attrs.get("fail_kind")
    if kind is not None:
        return kind == "params"
    return str(trial.user_attrs.get("fail_reason", "")).startswith("training diverged")  # studies before kinds


def counted(trials: list[FrozenTrial]) -> int:
    """Trials that count towards n_trials: complete and pruned ones, failed ones that failed because of their
    parameters, and trials running or queued. A trial failed because its worker died (and queued again) does
    not count: its retry takes its place."""
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    return sum(1 for t in trials if t.state != TrialState.FAIL or (t.number not in retried and counts(t)))


def finished(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def _started(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), from /proc; None where that cannot be read, and
    0 for a zombie (killed, not yet reaped by its parent: it runs nothing, however long it stays listed)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        if fields[0] == "Z":
            return 0.0
        ticks = int(fields[19])
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _process_alive(pid: int, since: float) -> bool:
    """Whether the process that started a trial at `since` still runs: pid `pid` exists and was not started
    after the trial (a pid reused by a later program is not our worker)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        pass
    started = _started(pid)
    return started is None or 0 < started <= since + 1  # /proc's clock ticks are coarse


UNCLAIMED_AFTER = 60.0  # seconds: a worker names itself on its trial at once; one that has not died as it began


def reap_dead_workers(study: optuna.Study, trials: list[FrozenTrial]) -> int:
    """Fail (and queue again) every RUNNING trial whose worker is gone: one that ran on this host and whose
    process no longer runs, one that stamps its own heartbeats (a Dask task's) and has been silent past the
    grace it promised, and one that no worker has named itself on for UNCLAIMED_AFTER seconds (its worker was
    killed between creating the trial and its first write). Without this nothing would ever end them, and the
    next run would wait for them for ever. Returns how many."""
    host, now = socket.gethostname(), time.time()
    reaped = 0
    for t in trials:
        if t.state != TrialState.RUNNING:
            continue
        started = t.datetime_start.timestamp() if t.datetime_start else now
        if "worker" not in t.user_attrs and "heartbeat_at" not in t.system_attrs:
            if now - started > UNCLAIMED_AFTER:
                reaped += fail_and_retry(study, t, f"no worker named itself on it in {now - started:.0f} s (its "
                                                   f"worker died as the trial began)")
            continue
        worker = str(t.user_attrs.get("worker", ""))
        at, grace = t.system_attrs.get("heartbeat_at"), t.system_attrs.get("heartbeat_grace")
        if isinstance(at, (int, float)) and isinstance(grace, (int, float)):
            if now - at > grace:
                reaped += fail_and_retry(study, t, f"its worker {worker} sent no heartbeat for {now - at:.0f} s")
            continue
        if not worker.startswith(host + ":"):
            continue
        pid = worker.rpartition(":")[2]
        if not pid.isdigit() or int(pid) == os.getpid() or _process_alive(int(pid), started):
            continue
        reaped += fail_and_retry(study, t, f"its worker {worker} died")
    return reaped


def fail_and_retry(study: optuna.Study, trial: FrozenTrial, reason: str) -> int:
    """Fail a RUNNING trial whose worker is gone (not its parameters' fault: it does not count) and queue its
    parameters again. Returns 1, or 0 when another process ended it first."""
    storage = study._storage
    storage.set_trial_user_attr(trial._trial_id, "fail_reason", reason)
    storage.set_trial_user_attr(trial._trial_id, "fail_kind", "environment")
    if not storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
        return 0
    study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
    return 1
