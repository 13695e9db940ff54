"""Stacked training: a trial's folds and ensemble members as one stack, against training them one after
another (the one-model path, as every trial trained before the stack), side by side on the same trials.

For each study: the same parameter sets (drawn once from a seeded random sampler), each cross-validated both
ways in alternation (so drift on this machine hits both alike), one BLAS thread as every worker runs.
Prints per-trial seconds both ways, the ratio's median and range, and how far apart the two ways' fold scores
are (float64 studies: to rounding; the shipped studies train in float32).
Run: python bench/stack.py [--trials N] [STUDY ...]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import optuna
from threadpoolctl import threadpool_limits

from tuner.config.search import suggest
from tuner.config.spec import StudySpec
from tuner.config.studyfile import load_study
from tuner.data.prepare import Prepared, prepare
from tuner.errors import DivergenceError
from tuner.evaluate.cv import CVResult, cross_validate
from tuner.nn import keep_freed_memory
from tuner.train.factory import train_model, trial_seed


def one_by_one(spec: StudySpec, prepared: Prepared, trial_number: int) -> CVResult:
    """cross_validate as it was before the stack: every fold's members trained alone, in turn."""
    cfg, started = spec.train, time.perf_counter()
    out = CVResult([], [], [], 0, 0.0)
    for fold in range(len(prepared.folds)):
        split = prepared.fold(fold)
        preds = []
        for member in range(cfg.ensemble):
            seed = trial_seed(spec.seed, trial_number, fold, member)
            model, result = train_model(cfg, prepared, seed, split.x_train, split.y_train, cfg.epochs,
                                        validate=(split.x_eval, lambda pred, s=split: s.score(pred)["mse"]),
                                        patience=cfg.patience or None)
            preds.append(model.predict(split.x_eval))
        out.fold_mse.append(split.score(np.mean(preds, axis=0))["mse"])
    out.seconds = time.perf_counter() - started
    return out


def measure(path: str, trials: int) -> None:
    spec = load_study(path)
    sampler = optuna.samplers.RandomSampler(seed=spec.seed)
    study = optuna.create_study(sampler=sampler)
    ratios, rows = [], []
    for number in range(trials):
        trial = study.ask()
        trial_spec = spec.with_params(suggest(trial, spec))
        prepared = prepare(trial_spec.data, trial_spec.cv, trial_spec.seed)
        prepared.fold(0)  # scaled folds built once, outside both timings
        times = {}
        try:
            for way, run in (("stack", cross_validate), ("alone", one_by_one)) if number % 2 else (
                    ("alone", one_by_one), ("stack", cross_validate)):
                started = time.perf_counter()
                result = run(trial_spec, prepared, number)
                times[way] = (time.perf_counter() - started, result.fold_mse)
        except DivergenceError:  # a learning rate too high: no time to compare
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            rows.append(f"| {number} | {trial_spec.train.cell} {trial_spec.train.hidden_units} | | | diverged | | | |")
            continue
        study.tell(trial, float(np.mean(times["stack"][1])))
        # float64 agrees to 1e-9 (tests/test_nn_stack.py); float32 rounds in another order, and over 100+
        # epochs the two runs drift apart by about the rounding's own size: shown, not asserted
        gap = float(np.max(np.abs(np.array(times["stack"][1]) / np.array(times["alone"][1]) - 1)))
        cfg = trial_spec.train
        ratios.append(times["alone"][0] / times["stack"][0])
        rows.append(f"| {number} | {cfg.cell} {cfg.hidden_units} | {cfg.batch_size} | {cfg.epochs} | "
                    f"{times['alone'][0]:.2f} | {times['stack'][0]:.2f} | {ratios[-1]:.2f}x | {gap:.1e} |")
    models = spec.cv.folds * spec.train.ensemble
    print(f"\n{spec.name}: {spec.cv.folds} folds x ensemble {spec.train.ensemble} = {models} models per trial, "
          f"{trials} trials (random parameters, seed {spec.seed}), one BLAS thread")
    print("| trial | cell, hidden | batch | epochs | one by one s | stack s | speed-up | fold MSE rel. gap |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"speed-up per trial: median {statistics.median(ratios):.2f}x, range {min(ratios):.2f}x-"
          f"{max(ratios):.2f}x")


def main() -> int:
    keep_freed_memory()  # as the CLI does: the engine's speed figures assume it
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("studies", nargs="*", default=["studies/sunspots_zhang.toml", "studies/sunspots.toml"])
    parser.add_argument("--trials", type=int, default=6)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with threadpool_limits(1):
        for path in args.studies:
            measure(path, args.trials)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
