"""Throughput with 1 and 2 worker processes on this machine: the default study, same seed and budget.

Two measurements:
  same trials   the same 40 parameter sets (drawn once from a seeded random sampler) queued in both runs,
                pruner off: identical work, so trials per minute compare like for like
  as tuned      the study as `make tune` runs it (TPE, median pruner): each worker samples its own stream,
                so the searches differ; epochs per minute measure the work done
Run: python bench/parallel.py [studies/sunspots.toml] [--n-trials 60]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import optuna
import tomli_w

from tuner.config.search import suggest
from tuner.config.studyfile import load_study, to_doc
from tuner.nn import keep_freed_memory
from tuner.tuning.runner import open_study, run


def main() -> int:
    keep_freed_memory()  # as the CLI does: the engine's speed figures assume it
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("study", nargs="?", default="studies/sunspots.toml")
    parser.add_argument("--n-trials", type=int, default=60)
    parser.add_argument("--only", choices=["same", "tuned"], help="run one of the two measurements")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    spec = dataclasses.replace(load_study(args.study), n_trials=args.n_trials)
    same = [{k: v for k, v in t.params.items()} for t in sample_params(spec, 40)]
    print(f"{spec.name}, seed {spec.seed}")
    print("| run | workers | trials | wall s | trials/min | epochs/min | best MSE |")
    print("|---|---|---|---|---|---|---|")
    runs = [("same trials", dataclasses.replace(spec, pruner="none", n_trials=len(same)), same),
            ("as tuned", spec, [])]
    for label, s, queue in [r for r in runs if not args.only or r[0].startswith(args.only)]:
        rows = []
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"{s.name}.toml"  # worker processes read the study from its file
            path.write_text(tomli_w.dumps(to_doc(s)))
            s = load_study(path)
            for workers in (1, 2):
                url = f"sqlite:///{Path(folder) / f'w{workers}.db'}"
                study = open_study(s, url)
                for params in queue:
                    study.enqueue_trial(params)
                started = time.perf_counter()
                study = run(s, storage=url, progress=False, workers=workers).study
                minutes = (time.perf_counter() - started) / 60
                epochs = sum(t.user_attrs.get("epochs_trained", 0) for t in study.trials)
                rows.append((workers, len(study.trials) / minutes, epochs / minutes))
                print(f"| {label} | {workers} | {len(study.trials)} | {minutes * 60:.1f} | {rows[-1][1]:.1f} | "
                      f"{rows[-1][2]:.0f} | {study.best_value:.5g} |", flush=True)
        print(f"{label}: 2 workers give {rows[1][1] / rows[0][1]:.2f}x trials/min, {rows[1][2] / rows[0][2]:.2f}x "
              f"epochs/min (target >= 1.7x)")
    return 0


def sample_params(spec, n: int) -> list:
    """n trials' parameters from a seeded random sampler, in memory."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=spec.seed))
    study.optimize(lambda trial: (suggest(trial, spec), 0.0)[1], n_trials=n)
    return study.trials


if __name__ == "__main__":
    raise SystemExit(main())
