"""Cross-validation of one config: a fresh seeded model per fold and ensemble member, scored on the fold's
validation windows in original units. Knows nothing of Optuna: the objective watches through `report`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config.spec import StudySpec
from ..data.metrics import score_of
from ..data.prepare import Prepared, Split, scores
from ..errors import DivergenceError
from ..nn import SequenceModel, make_optimizer
from ..nn.stack import Stack
from ..train.factory import new_model, trial_seed
from ..train.trainer import fit_stack
from ..train.watch import FitResult


def standard_error(values: list[float]) -> float:
    return float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0


@dataclass
class CVResult:
    fold_mse: list[float]
    epochs: list[int]  # epochs run per fold (all ensemble members together)
    best_epochs: list[int]  # the early-stopping epoch kept per fold (the members' median)
    n_params: int
    seconds: float
    # per fold: (what each validation row forecasts, the forecast and the actual values, original units)
    oof: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    oof_scaled: list[np.ndarray] = field(default_factory=list)  # per fold: the same forecasts, scaled units
    diagnostics: dict[str, Any] = field(default_factory=dict)  # gradient norms and flow (gradient_diagnostics)
    metric: str = "mse"  # what the trial minimises ([study] metric)
    fold_scores: list[float] = field(default_factory=list)  # that metric per fold (fold_mse when it is MSE)

    @property
    def mean(self) -> float:
        """The trial's value: the mean over folds of the study's metric."""
        return float(np.mean(self.fold_scores or self.fold_mse))

    def attrs(self) -> dict[str, Any]:
        mse = float(np.mean(self.fold_mse))
        out = {"fold_mse": self.fold_mse, "mse_mean": mse, "mse_sem": standard_error(self.fold_mse),
               "epochs": self.epochs, "best_epochs": self.best_epochs, "n_params": self.n_params,
               "train_seconds": round(self.seconds, 3), **self.diagnostics}
        if self.metric != "mse":
            out.update(metric=self.metric, fold_score=self.fold_scores, score_sem=standard_error(self.fold_scores))
        return out


FLOW_BATCH = 64  # training windows the gradient-flow profile is averaged over


def gradient_diagnostics(models: list[SequenceModel], results: list[FitResult],
                         data: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """What each fold's first model saw of its gradients (trial attributes; docs/diagnostics.md):
    per epoch the global norm before clipping (the median over folds of each epoch's median over batches, and
    the largest), the share of clipped updates per epoch and overall, and at the end of training the
    gradient-flow profile ||dL/dh_t|| for t = 1..T per layer (averaged over a batch of training windows and
    over folds) with its vanishing ratio, first step over last, of the bottom layer."""
    longest = max(r.epochs_run for r in results)

    def per_epoch(name: str, reduce: Callable[[list[float]], float]) -> list[float]:
        return [float(reduce([getattr(r, name)[e] for r in results if e < r.epochs_run])) for e in range(longest)]

    profiles = []
    for model, (x, y) in zip(models, data, strict=True):
        flows = model.gradient_flow(x[:FLOW_BATCH], y[:FLOW_BATCH])  # per layer (B, T, H)
        profiles.append([np.linalg.norm(f, axis=2).mean(axis=0) for f in flows])
    flow = [np.mean([p[layer] for p in profiles], axis=0) for layer in range(len(profiles[0]))]
    bottom = flow[0]
    clipped = [c for r in results for c in r.clipped]
    return {"grad_norm_median": per_epoch("grad_norm_median", np.median),
            "grad_norm_max": per_epoch("grad_norm_max", np.max),
            "clipped_per_epoch": per_epoch("clipped", np.mean),
            "clipped_fraction": float(np.mean(clipped)) if clipped else 0.0,
            "grad_flow": [[float(v) for v in layer] for layer in flow],
            "vanishing_ratio": float(bottom[0] / bottom[-1]) if bottom[-1] > 0 else float("nan")}


VANISHED = 1e-3  # a vanishing ratio below this: the first steps' hidden states get a thousandth of the last's
CLIPPED_MOSTLY = 0.5  # a larger share of clipped updates: the clip norm, not the gradient, sets every step


GATED = ("lstm", "gru")  # the cells built to carry a gradient across many steps


def gradient_warnings(diagnostics: dict[str, Any], what: str = "the model", cell: str = "rnn") -> list[str]:
    """Plain words for what the numbers say, when they say something is wrong; [] when nothing is. The advice
    names only cells other than the model's own."""
    out = []
    ratio = diagnostics.get("vanishing_ratio")
    if ratio is not None and np.isfinite(ratio) and ratio < VANISHED:
        others = " or ".join(c for c in GATED if c != cell)
        out.append(f"gradients vanished in {what} ({cell}): dL/dh at the first step is {ratio:.2g} of the last "
                   f"step's, so the early steps of a window barely learn; try {others}, or a shorter window")
    clipped = diagnostics.get("clipped_fraction")
    if clipped is not None and clipped > CLIPPED_MOSTLY:
        out.append(f"{clipped:.0%} of {what}'s updates were clipped: the clip norm sets their size; try a lower "
                   f"learning rate or a larger clip_norm")
    return out


def scorer(split: Split, metric: str = "mse") -> Callable[[np.ndarray], float]:
    """The validation score (the study's metric, in original units) of scaled predictions for this split's
    evaluation windows."""
    return lambda pred: split.metric_score(pred, metric)


def _fold_results(spec: StudySpec, stack: Stack, results: list[FitResult], splits: list[Split]) -> CVResult:
    """Each fold scored on the mean of its members' forecasts (the weights each model kept)."""
    members, patience = spec.train.ensemble, spec.train.patience
    out = CVResult([], [], [], stack.member(0).n_params, 0.0, metric=spec.metric)
    for fold, split in enumerate(splits):
        ks = range(fold * members, (fold + 1) * members)
        out.oof_scaled.append(np.mean([stack.member(k).predict(split.x_eval) for k in ks], axis=0))
        forecast = split.to_original(out.oof_scaled[-1])
        out.fold_mse.append(scores(forecast, split.y_eval_orig)["mse"])
        out.fold_scores.append(score_of(spec.metric, forecast, split.y_eval_orig, split.mase_scale))
        out.oof.append((split.keys, forecast, split.y_eval_orig))
        out.epochs.append(int(sum(results[k].epochs_run for k in ks)))
        out.best_epochs.append(int(np.median([results[k].best_epoch if patience else results[k].epochs_run
                                              for k in ks])))
    return out


def cross_validate(spec: StudySpec, prepared: Prepared, trial_number: int,
                   report: Callable[[int, float, int], None] | None = None, diagnose: bool = True) -> CVResult:
    """Train a fresh model per fold and ensemble member (seeded by study seed, trial number, fold and member),
    all as one stack (nn/stack.py), each with early stopping on its fold's validation MSE in original units,
    and score each fold on the mean of its members' predictions: what the final model (an ensemble of as many
    members) will predict. The same spec and trial number give the same result, and each model's the same as
    trained alone.

    After every epoch, report(epoch, value, models) gets the mean over folds of member 0's validation MSE
    (the best so far with early stopping, which is the weights the fold keeps; else the latest) and how many
    models trained in that epoch: every step means the same in every trial."""
    cfg = spec.train
    started = time.perf_counter()
    folds, members = len(prepared.folds), cfg.ensemble
    jobs = [(fold, member) for fold in range(folds) for member in range(members)]
    splits = [prepared.fold(fold) for fold in range(folds)]
    seeds = [trial_seed(spec.seed, trial_number, fold, member) for fold, member in jobs]
    stack = Stack([new_model(cfg, prepared, seed, splits[fold].x_train, splits[fold].y_train)
                   for seed, (fold, _) in zip(seeds, jobs, strict=True)])

    def on_epoch(epoch: int, results: list[FitResult], ran: np.ndarray) -> None:
        if report is None:
            return
        kept = [results[fold * members].val_loss for fold in range(folds)]
        value = float(np.mean([min(v) if cfg.patience else v[-1] for v in kept]))
        report(epoch, value, int(ran.sum()))

    try:
        results = fit_stack(stack, make_optimizer(cfg.optimizer, **cfg.optimizer_settings()),
                            [(splits[fold].x_train, splits[fold].y_train) for fold, _ in jobs],
                            epochs=cfg.epochs, batch_size=cfg.batch_size, seeds=seeds,
                            clip_norm=cfg.clip_norm or None, patience=cfg.patience or None,
                            validate=[(splits[fold].x_eval, scorer(splits[fold], spec.metric)) for fold, _ in jobs],
                            on_epoch=on_epoch, diagnose=diagnose)
    except DivergenceError as exc:
        if exc.model is None:
            raise
        fold, member = jobs[exc.model]
        where = f"fold {fold}" + (f", ensemble member {member}" if members > 1 else "")
        raise DivergenceError(exc.epoch, f"{exc.reason} ({where})") from None
    out = _fold_results(spec, stack, results, splits)
    if diagnose:
        out.diagnostics = gradient_diagnostics([stack.member(f * members) for f in range(folds)],
                                               [results[f * members] for f in range(folds)],
                                               [(s.x_train, s.y_train) for s in splits])
    out.seconds = time.perf_counter() - started
    if not math.isfinite(out.mean):  # belt and braces: fit raises first
        raise DivergenceError(cfg.epochs, f"mean validation {spec.metric} is {out.mean}")
    return out
