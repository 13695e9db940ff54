"""The Optuna objective: the only module that talks to optuna.Trial.

A trial suggests its parameters, then trains a fresh seeded model on each cross-validation fold, in the same
fold order for every trial, and returns the mean validation MSE in original units. After each epoch it
reports that fold's validation MSE at step fold * epochs + epoch (epochs: the most any trial may train), so a
step means the same fold and epoch in every trial and the pruner can stop a hopeless trial during its first fold.
"""

from __future__ import annotations

import dataclasses
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

from .data.prepare import Prepared, prepare
from .errors import DataError, DivergenceError, Interrupted, ParamsError, TooLarge
from .memory import check_fits, trial_bytes
from .nn import SequenceModel, make_optimizer
from .search import suggest
from .spec import Choice, DataSpec, StudySpec, TrainSpec
from .train import FitResult, fit


def trial_seed(study_seed: int, trial_number: int, fold: int = 0, member: int = 0) -> int:
    """A seed of its own for every (study seed, trial, fold, ensemble member): reproducible whatever the
    worker. Member 0 keeps the seed a study without an ensemble has always had."""
    key = f"{study_seed}/{trial_number}/{fold}" + (f"/{member}" if member else "")
    return zlib.crc32(key.encode())


def train_model(cfg: TrainSpec, prepared: Prepared, seed: int, x: np.ndarray, y: np.ndarray, epochs: int,
                **fit_args: Any) -> tuple[SequenceModel, FitResult]:
    """A fresh model of this config, seeded, trained by fit with the config's optimizer, batch size and clipping;
    fit_args (validate, patience, on_epoch) pass through. Cross-validation and the final model both train so."""
    model = SequenceModel(cfg.cell, prepared.input_size, cfg.hidden_units, prepared.output_size,
                          activation=cfg.activation, num_layers=cfg.num_layers, seed=seed, dtype=cfg.dtype)
    result = fit(model, make_optimizer(cfg.optimizer, **cfg.optimizer_settings()), x, y, epochs=epochs,
                 batch_size=cfg.batch_size, seed=seed, clip_norm=cfg.clip_norm or None, **fit_args)
    return model, result


def standard_error(values: list[float]) -> float:
    return float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0


class Objective:
    """Callable for study.optimize. Data is prepared once per distinct data setting and reused."""

    def __init__(self, spec: StudySpec, should_stop: Callable[[], bool] = lambda: False):
        self.spec = spec
        self.should_stop = should_stop
        self._data: dict[DataSpec, Prepared] = {}
        self._baselines: dict[DataSpec, dict[str, list[float]]] = {}
        searched = spec.search.get("epochs")  # the most epochs any trial may train: the stride of report steps
        if isinstance(searched, Choice):
            self.max_epochs = int(max(searched.values))
        else:
            self.max_epochs = int(searched.high) if searched else spec.train.epochs

    def check(self) -> None:
        """Before any trial: the data loads and windows, and the smallest model the search can draw fits."""
        prepared = self.data(self.spec.data)
        smallest = {}
        for key in ("hidden_units", "batch_size", "num_layers"):
            entry = self.spec.search.get(key)
            if entry is not None:
                smallest[key] = min(entry.values) if isinstance(entry, Choice) else int(entry.low)
        cfg = dataclasses.replace(self.spec.train, **smallest)
        fixed = ", ".join(f"{k}={getattr(cfg, k)}" for k in ("hidden_units", "batch_size", "num_layers"))
        check_fits(f"the smallest trial ({fixed})", self.trial_bytes(cfg, prepared),
                   "lower hidden_units, batch_size or num_layers (or their [search] ranges)")

    def trial_bytes(self, cfg: TrainSpec, prepared: Prepared) -> int:
        """Estimated bytes one trial of this config needs (memory.py)."""
        n_eval = max(len(va) for _, va in prepared.folds)
        return trial_bytes(cfg.cell, prepared.input_size, cfg.hidden_units, prepared.output_size, cfg.num_layers,
                           cfg.dtype, prepared.x.shape[1], min(cfg.batch_size, len(prepared.train_idx)), n_eval,
                           cfg.ensemble)

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
        try:
            prepared = self.data(spec.data)
        except (DataError, TooLarge):
            if spec.data != self.spec.data:  # the base data loads (checked first): this trial's data values fail
                trial.set_user_attr("fail_kind", "params")
            raise
        try:
            check_fits("this trial", self.trial_bytes(spec.train, prepared), "narrow the [search] range")
        except TooLarge as exc:
            raise ParamsError(f"too large for memory: {exc}") from None
        epochs = self.max_epochs  # the stride of report steps: fold f starts at the same step in every trial
        trained = [0]  # epochs trained in this trial, every fold, pruned or not

        def report(fold: int, epoch: int, val_loss: float | None) -> None:
            trained[0] += 1
            if self.should_stop():
                raise Interrupted(f"stopped by the user in fold {fold}, epoch {epoch}")
            # each report is a write, each pruning check a read, of storage
            if val_loss is None or epoch % self.spec.report_every:
                return
            trial.report(val_loss, step=fold * epochs + epoch)
            if trial.should_prune():
                trial.set_user_attr("pruned_at", {"fold": fold, "epoch": epoch})
                trial.set_user_attr("epochs_trained", trained[0])
                raise optuna.TrialPruned(f"fold {fold} epoch {epoch}: validation MSE {val_loss:.4g}")

        try:
            cv = cross_validate(spec, prepared, trial.number, report)
        except DivergenceError as exc:
            trial.set_user_attr("fail_reason", str(exc))
            raise
        for key, value in cv.attrs().items():
            trial.set_user_attr(key, value)
        trial.set_user_attr("epochs_trained", trained[0])
        trial.set_user_attr("baselines", self.baselines(spec.data))
        return cv.mean


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
    for fold in range(len(prepared.folds)):
        split = prepared.fold(fold)
        preds, epochs, best = [], [], []
        for member in range(cfg.ensemble):
            seed = trial_seed(spec.seed, trial_number, fold, member)

            def validate(m: SequenceModel, split=split) -> float:
                return split.score(m.predict(split.x_eval))["mse"]

            def on_epoch(epoch: int, train_loss: float, val_loss: float | None, fold=fold, member=member) -> None:
                report(fold, epoch, val_loss if member == 0 else None)  # None: count the epoch, do not report

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
