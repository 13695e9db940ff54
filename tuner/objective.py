"""The Optuna objective: the only module that talks to optuna.Trial.

A trial suggests its parameters, then trains a fresh seeded model on each cross-validation fold, in the same
fold order for every trial, and returns the mean validation MSE in original units. After each epoch it
reports that fold's validation MSE at step fold * epochs + epoch, so a step means the same fold and epoch in
every trial and the pruner can stop a hopeless trial during its first fold.
"""

from __future__ import annotations

import math
import time
import zlib
from typing import Any

import numpy as np
import optuna

from .config import SEARCHABLE, Choice, DataSpec, Range, StudySpec
from .data import Prepared, prepare
from .errors import DivergenceError
from .nn import SequenceModel, make_optimizer
from .train import fit


def trial_seed(study_seed: int, trial_number: int, fold: int = 0) -> int:
    """A seed of its own for every (study seed, trial, fold): reproducible whatever the worker."""
    return zlib.crc32(f"{study_seed}/{trial_number}/{fold}".encode())


def suggest(trial: optuna.Trial, spec: StudySpec) -> dict[str, Any]:
    """Draw every [search] entry; optimizer-specific ones only when their optimizer is the one chosen."""
    params: dict[str, Any] = {}
    for key, entry in spec.search.items():
        only_for = SEARCHABLE[key][1]
        optimizer = params.get("optimizer", spec.train.optimizer)
        if only_for is not None and optimizer != only_for:
            continue
        if isinstance(entry, Choice):
            params[key] = trial.suggest_categorical(key, list(entry.values))
        elif isinstance(entry, Range) and entry.is_int:
            params[key] = trial.suggest_int(key, entry.low, entry.high, step=entry.step or 1, log=entry.log)
        else:
            params[key] = trial.suggest_float(key, entry.low, entry.high, step=entry.step, log=entry.log)
    return params


def standard_error(values: list[float]) -> float:
    return float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0


class Objective:
    """Callable for study.optimize. Data is prepared once per distinct data setting and reused."""

    def __init__(self, spec: StudySpec):
        self.spec = spec
        self._data: dict[DataSpec, Prepared] = {}
        self._baselines: dict[DataSpec, dict[str, list[float]]] = {}

    def data(self, data_spec: DataSpec) -> Prepared:
        if data_spec not in self._data:
            self._data[data_spec] = prepare(data_spec, self.spec.cv, self.spec.seed)
        return self._data[data_spec]

    def baselines(self, data_spec: DataSpec) -> dict[str, list[float]]:
        """Per-fold validation MSE of each baseline, on the trial's folds."""
        if data_spec not in self._baselines:
            prepared = self.data(data_spec)
            per_fold = [prepared.fold(i).baselines() for i in range(len(prepared.folds))]
            self._baselines[data_spec] = {name: [fold[name]["mse"] for fold in per_fold] for name in per_fold[0]}
        return self._baselines[data_spec]

    def __call__(self, trial: optuna.Trial) -> float:
        params = suggest(trial, self.spec)
        spec = self.spec.with_params(params)
        prepared = self.data(spec.data)
        cfg = spec.train
        started = time.perf_counter()
        fold_mse, epochs_run = [], []
        for fold in range(len(prepared.folds)):
            split = prepared.fold(fold)
            seed = trial_seed(spec.seed, trial.number, fold)
            model = SequenceModel(cfg.cell, prepared.input_size, cfg.hidden_units, prepared.output_size,
                                  activation=cfg.activation, num_layers=cfg.num_layers, seed=seed, dtype=cfg.dtype)
            optimizer = make_optimizer(cfg.optimizer, **cfg.optimizer_settings())

            def validate(m: SequenceModel, split=split) -> float:
                return split.score(m.predict(split.x_eval))["mse"]

            def report(epoch: int, train_loss: float, val_loss: float | None, fold=fold) -> None:
                trial.report(val_loss, step=fold * cfg.epochs + epoch)
                if trial.should_prune():
                    trial.set_user_attr("pruned_at", {"fold": fold, "epoch": epoch})
                    raise optuna.TrialPruned(f"fold {fold} epoch {epoch}: validation MSE {val_loss:.4g}")

            try:
                result = fit(model, optimizer, split.x_train, split.y_train, epochs=cfg.epochs,
                             batch_size=cfg.batch_size, seed=seed, clip_norm=cfg.clip_norm or None,
                             validate=validate, patience=cfg.patience or None, on_epoch=report)
            except DivergenceError as exc:
                trial.set_user_attr("fail_reason", f"fold {fold}: {exc}")
                raise
            fold_mse.append(result.best_val_loss)
            epochs_run.append(result.epochs_run)
            trial.set_user_attr("epochs", epochs_run)
            trial.set_user_attr("n_params", model.n_params)

        value = float(np.mean(fold_mse))
        if not math.isfinite(value):  # belt and braces: fit raises first
            reason = f"mean validation MSE is {value}"
            trial.set_user_attr("fail_reason", reason)
            raise DivergenceError(cfg.epochs, reason)
        trial.set_user_attr("fold_mse", fold_mse)
        trial.set_user_attr("mse_mean", value)
        trial.set_user_attr("mse_sem", standard_error(fold_mse))
        trial.set_user_attr("train_seconds", round(time.perf_counter() - started, 3))
        trial.set_user_attr("baselines", self.baselines(spec.data))
        return value
