"""Throughput with 1 and 2 worker processes on this machine: the default study, same seed and budget.

Trials per minute and training epochs per minute (every reported epoch of every trial): with several
workers each samples its own stream, so the trials differ and epochs per minute is the fairer measure of
work done. Run: python bench/parallel.py [studies/sunspots.toml] [--n-trials 24]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import optuna

from tuner.config import load_study
from tuner.study import run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("study", nargs="?", default="studies/sunspots.toml")
    parser.add_argument("--n-trials", type=int, default=60)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    spec = dataclasses.replace(load_study(args.study), n_trials=args.n_trials)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for workers in (1, 2):
            # the workers re-read the study file: give them a copy that points at this run's database
            started = time.perf_counter()
            study = run(spec, storage=f"sqlite:///{Path(folder) / f'w{workers}.db'}", progress=False,
                        workers=workers).study
            minutes = (time.perf_counter() - started) / 60
            epochs = sum(t.user_attrs.get("epochs_trained", 0) for t in study.trials)
            rows.append((workers, minutes * 60, len(study.trials) / minutes, epochs / minutes, study.best_value))
    print(f"{spec.name}: {args.n_trials} trials, seed {spec.seed}, pruner {spec.pruner}")
    print("| workers | wall s | trials/min | epochs/min | best MSE |")
    print("|---|---|---|---|---|")
    for w, s, tpm, epm, best in rows:
        print(f"| {w} | {s:.1f} | {tpm:.1f} | {epm:.0f} | {best:.5g} |")
    print(f"speed-up with 2 workers: {rows[1][2] / rows[0][2]:.2f}x trials/min, {rows[1][3] / rows[0][3]:.2f}x "
          f"epochs/min (target >= 1.7x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
