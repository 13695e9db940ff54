"""How many Dask workers one storage keeps busy: N worker processes (one thread each) run trivial trials
(TRIAL_SECONDS of sleep) through tuner's worker loop, with the next-trial lock tune --dask uses, until the
study holds TRIALS_PER_WORKER x N trials. Reported per N and storage: trials per second, the share of a
worker's time spent waiting for the next-trial lock (median over workers), trials started more than once or
left unfinished. Storages:
  dask-sqlite   the study's SQLite file on the scheduler, through DaskStorage (what tune --dask does)
  postgresql    each worker on PostgreSQL directly (--postgres URL or $TUNER_TEST_POSTGRES)
Run: python bench/dask_limits.py [--workers 2 4 8 16 32 64] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import optuna

TRIAL_SECONDS, TRIALS_PER_WORKER = 0.02, 10


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0, 100)
    time.sleep(TRIAL_SECONDS)
    return x


def task(kind: str, where: str, target: int, seed: int) -> tuple[int, float, float]:
    """One worker: (trials it ran, seconds waiting for the lock, seconds in all)."""
    warnings.simplefilter("ignore")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    from tuner.tuning.cluster import DaskLock
    from tuner.tuning.runner import run_trials
    from tuner.tuning.storage import TrialLock, open_storage

    if kind == "dask-sqlite":
        from optuna_integration import DaskStorage

        storage, lock = DaskStorage(name=where, register=False), DaskLock("bench")
    else:
        storage, lock = open_storage(where), TrialLock(where, "bench")
    study = optuna.load_study(study_name="bench", storage=storage, sampler=optuna.samplers.RandomSampler(seed=seed))
    waited = [0.0]
    acquire = lock.acquire

    def timed_acquire() -> None:
        started = time.perf_counter()
        acquire()
        waited[0] += time.perf_counter() - started

    lock.acquire = timed_acquire  # type: ignore[method-assign]
    started, ran = time.perf_counter(), [0]

    def counting(trial: optuna.Trial) -> float:
        ran[0] += 1
        return objective(trial)

    run_trials(study, counting, target, lock)
    return ran[0], waited[0], time.perf_counter() - started


def measure(kind: str, n: int, postgres: str | None) -> dict:
    import distributed
    from optuna_integration import DaskStorage

    target = TRIALS_PER_WORKER * n
    with tempfile.TemporaryDirectory() as tmp, distributed.LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50) as cluster, \
            distributed.Client(cluster) as client:
        if kind == "dask-sqlite":
            storage = DaskStorage(storage=f"sqlite:///{Path(tmp) / 'bench.db'}", client=client)
            where = storage.name
        else:
            where = postgres
            storage = optuna.storages.RDBStorage(postgres)
            for s in optuna.get_all_study_summaries(storage):
                if s.study_name == "bench":
                    optuna.delete_study(study_name="bench", storage=storage)
        optuna.create_study(study_name="bench", storage=storage)
        started = time.perf_counter()
        futures = [client.submit(task, kind, where, target, i, workers=[w], pure=False)
                   for i, w in enumerate(client.scheduler_info()["workers"])]
        results = client.gather(futures)
        seconds = time.perf_counter() - started
        trials = optuna.load_study(study_name="bench", storage=storage).get_trials(deepcopy=False)
        numbers = [t.number for t in trials]
    waiting = [w / total for _, w, total in results]
    return {"trials": len(trials), "per_second": len(trials) / seconds, "waiting": statistics.median(waiting),
            "unfinished": sum(t.state.name != "COMPLETE" for t in trials),
            "duplicates": len(numbers) - len(set(numbers)), "extra": len(trials) - target}


def main() -> int:
    warnings.simplefilter("ignore")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4, 8, 16, 32, 64])
    parser.add_argument("--postgres", default=os.environ.get("TUNER_TEST_POSTGRES"))
    parser.add_argument("--only", choices=["dask-sqlite", "postgresql"], help="one storage")
    args = parser.parse_args()
    kinds = ["dask-sqlite"] + (["postgresql"] if args.postgres else [])
    if args.only:
        kinds = [args.only]
    print(f"{TRIAL_SECONDS * 1000:.0f} ms trials, {TRIALS_PER_WORKER} per worker; this machine: {os.cpu_count()} cores")
    print("| storage | workers | trials | trials/s | lock wait (median share) | unfinished | beyond n_trials |")
    print("|---|---|---|---|---|---|---|")
    for kind in kinds:
        for n in args.workers:
            r = measure(kind, n, args.postgres)
            print(f"| {kind} | {n} | {r['trials']} | {r['per_second']:.1f} | {r['waiting']:.0%} | {r['unfinished']} | "
                  f"{r['extra']} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
