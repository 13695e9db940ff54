"""Pruning: the default study with the median pruner versus pruner = "none", same seed and trial budget.

Prints wall time, total training epochs (every reported epoch of every trial, pruned ones included), trials
per minute and the best validation MSE each reached. Run: make bench (or python bench/pruning.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import optuna

from tuner.config.studyfile import load_study
from tuner.nn import keep_freed_memory
from tuner.tuning.runner import run


def measure(spec, pruner: str, folder: Path) -> dict:
    spec = dataclasses.replace(spec, pruner=pruner)
    started = time.perf_counter()
    study = run(spec, storage=f"sqlite:///{folder}/{pruner}.db", progress=False).study
    seconds = time.perf_counter() - started
    states = [t.state for t in study.trials]
    return {
        "pruner": pruner,
        "seconds": seconds,
        "epochs": sum(t.user_attrs.get("epochs_trained", 0) for t in study.trials),
        "trials/min": len(study.trials) / seconds * 60,
        "pruned": states.count(optuna.trial.TrialState.PRUNED),
        "best": study.best_value,
    }


def main() -> int:
    keep_freed_memory()  # as the CLI does: the engine's speed figures assume it
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("study", nargs="?", default="studies/sunspots.toml")
    parser.add_argument("--n-trials", type=int, help="override the study's n_trials")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = load_study(args.study)
    if args.n_trials:
        spec = dataclasses.replace(spec, n_trials=args.n_trials)
    with tempfile.TemporaryDirectory() as folder:
        rows = [measure(spec, p, Path(folder)) for p in ("none", spec.pruner if spec.pruner != "none" else "median")]
    base, pruned = rows
    print(f"{spec.name}: {spec.n_trials} trials, seed {spec.seed}, {spec.cv.folds} folds x up to "
          f"{spec.train.epochs} epochs")
    print("| pruner | wall s | epochs | trials/min | pruned | best MSE |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['pruner']} | {r['seconds']:.1f} | {r['epochs']} | {r['trials/min']:.1f} | {r['pruned']} | "
              f"{r['best']:.5g} |")
    saved = 1 - pruned["epochs"] / base["epochs"]
    gap = pruned["best"] / base["best"] - 1
    print(f"epochs saved by pruning: {saved:.0%} (target >= 40%); best value {gap:+.1%} vs no pruning "
          f"(target within 5%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
