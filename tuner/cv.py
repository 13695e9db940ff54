"""Cross-validation of one config: a fresh seeded model per fold and ensemble member, scored on the fold's
validation windows in original units. Knows nothing of Optuna: the objective watches through `report`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .data.prepare import Prepared
from .errors import DivergenceError
from .nn import SequenceModel
from .spec import StudySpec
from .train import train_model, trial_seed


def standard_error(values: list[float]) -> float:
    return float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0


@dataclass
class CVResult:
    fold_mse: list[float]
    epochs: list[int]  # epochs run per fold (all ensemble members together)
    best_epochs: list[int]  # the early-stopping epoch kept per fold (the members' median)
    n_params: int
    seconds: float

    @property
    def mean(self) -> float:
        return float(np.mean(self.fold_mse))

    def attrs(self) -> dict[str, Any]:
        return {"fold_mse": self.fold_mse, "mse_mean": self.mean, "mse_sem": standard_error(self.fold_mse),
                "epochs": self.epochs, "best_epochs": self.best_epochs, "n_params": self.n_params,
                "train_seconds": round(self.seconds, 3)}


def cross_validate(spec: StudySpec, prepared: Prepared, trial_number: int,
                   report: Callable[[int, int, float | None], None] | None = None) -> CVResult:
    """Train fresh models per fold (seeded by study seed, trial number, fold and ensemble member), each with
    early stopping on the fold's validation MSE in original units, and score the mean of their predictions:
    what the final model (an ensemble of as many members) will predict. Only member 0 reports, so a step
    means the same thing in every trial. The same spec and trial number give the same result."""
    cfg = spec.train
    started = time.perf_counter()
    out = CVResult([], [], [], 0, 0.0)
    tell = report or (lambda fold, epoch, val_loss: None)
    for fold in range(len(prepared.folds)):
        split = prepared.fold(fold)
        preds, epochs, best = [], [], []
        for member in range(cfg.ensemble):
            seed = trial_seed(spec.seed, trial_number, fold, member)

            def validate(m: SequenceModel, split=split) -> float:
                return split.score(m.predict(split.x_eval))["mse"]

            def on_epoch(epoch: int, train_loss: float, val_loss: float | None, fold=fold, member=member) -> None:
                tell(fold, epoch, val_loss if member == 0 else None)  # None: count the epoch, do not report

            try:
                model, result = train_model(cfg, prepared, seed, split.x_train, split.y_train, cfg.epochs,
                                            validate=validate, patience=cfg.patience or None,
                                            on_epoch=on_epoch if report else None)
            except DivergenceError as exc:
                where = f"fold {fold}" + (f", ensemble member {member}" if cfg.ensemble > 1 else "")
                raise DivergenceError(exc.epoch, f"{exc.reason} ({where})") from None
            preds.append(model.predict(split.x_eval))  # the weights fit kept: its best epoch's with patience
            epochs.append(result.epochs_run)
            best.append(result.best_epoch if cfg.patience else result.epochs_run)
        out.fold_mse.append(split.score(np.mean(preds, axis=0))["mse"])
        out.epochs.append(int(sum(epochs)))
        out.best_epochs.append(int(np.median(best)))
        out.n_params = model.n_params
    out.seconds = time.perf_counter() - started
    if not math.isfinite(out.mean):  # belt and braces: fit raises first
        raise DivergenceError(cfg.epochs, f"mean validation MSE is {out.mean}")
    return out
