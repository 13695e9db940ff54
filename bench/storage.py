"""Which storage for several local workers? Duplicated queued trials, crashed workers, and speed.

4 worker processes share one study; 12 trials are queued first with enqueue_trial (which is also how a
stale trial is retried), then each worker runs short trials (20 ms) until the study holds 60. Reported per
storage: queued trials that ran more than once, workers that crashed, trials in the wrong state, and
trials per second. Contenders:
  sqlite          Optuna's own loop (study.optimize) on SQLite, with a 60 s lock timeout
  sqlite+lock     tuner's worker loop: the same SQLite, trial starts serialised by an flock
  journal         Optuna's loop on JournalFileStorage (a file of its own: not what optuna-dashboard
                  or the `optuna` CLI read by URL)
  postgresql      Optuna's loop on PostgreSQL, when --postgres URL (or TUNER_TEST_POSTGRES) is given
Run: python bench/storage.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import optuna

from tuner.tuning.runner import run_trials
from tuner.tuning.storage import TrialLock, open_storage

WORKERS, QUEUED, TOTAL, TRIAL_SECONDS = 4, 12, 60, 0.02


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0, 100)
    time.sleep(TRIAL_SECONDS)
    return x


def storage(kind: str, where: str):
    if kind == "journal":
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(where))
    return open_storage(where)


def worker(kind: str, where: str, seed: int) -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(study_name="bench", storage=storage(kind, where),
                              sampler=optuna.samplers.RandomSampler(seed=seed))
    if kind == "sqlite+lock":
        run_trials(study, objective, TOTAL, TrialLock(where, "bench"))
    else:
        study.optimize(objective, n_trials=TOTAL // WORKERS,
                       callbacks=[optuna.study.MaxTrialsCallback(TOTAL, states=None)])


def measure(kind: str, where: str) -> dict:
    study = optuna.create_study(study_name="bench", storage=storage(kind, where))
    for i in range(QUEUED):
        study.enqueue_trial({"x": 100.0 - i / 1000})  # distinct values: each queued trial is recognisable
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=worker, args=(kind, where, i)) for i in range(WORKERS)]
    started = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=600)
    seconds = time.perf_counter() - started
    trials = optuna.load_study(study_name="bench", storage=storage(kind, where)).trials
    ran = Counter(t.params.get("x") for t in trials if t.state == optuna.trial.TrialState.COMPLETE)
    return {
        "duplicates": sum(n - 1 for x, n in ran.items() if x is not None and x > 99.9),
        "crashed": sum(p.exitcode != 0 for p in procs),
        "not finished": sum(not t.state.is_finished() for t in trials),
        "trials": len(trials),
        "trials/s": len(trials) / seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get("TUNER_TEST_POSTGRES"))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    kinds = ["sqlite", "sqlite+lock", "journal"] + (["postgresql"] if args.postgres else [])
    print(f"{WORKERS} workers, {QUEUED} queued trials, {TOTAL} trials of {TRIAL_SECONDS * 1000:.0f} ms; "
          f"sums over {args.rounds} rounds (trials/s: median)")
    print("| storage | duplicated queued trials | crashed workers | unfinished trials | trials | trials/s |")
    print("|---|---|---|---|---|---|")
    for kind in kinds:
        rows = []
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory() as folder:
                if kind == "postgresql":
                    where = args.postgres
                    try:
                        optuna.delete_study(study_name="bench", storage=where)
                    except KeyError:
                        pass
                else:
                    where = (f"sqlite:///{folder}/bench.db" if kind.startswith("sqlite")
                             else str(Path(folder) / "bench.journal"))
                rows.append(measure(kind, where))
        total = {k: sum(r[k] for r in rows) for k in ("duplicates", "crashed", "not finished", "trials")}
        speed = sorted(r["trials/s"] for r in rows)[len(rows) // 2]
        print(f"| {kind} | {total['duplicates']} | {total['crashed']} | {total['not finished']} | "
              f"{total['trials']} | {speed:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
