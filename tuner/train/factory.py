"""Building the models a trial trains: seeds, a new model started at its linear term, one config's
members trained as one stack, and what that costs in bytes."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..nn import SequenceModel, make_optimizer
from ..nn.sizes import trial_bytes
from ..nn.stack import Stack
from .trainer import fit, fit_stack
from .watch import FitResult

if TYPE_CHECKING:
    from ..config.spec import TrainSpec
    from ..data.prepare import Prepared

def trial_seed(study_seed: int, trial_number: int, fold: int = 0, member: int = 0) -> int:
    """A seed of its own for every (study seed, trial, fold, ensemble member): reproducible whatever the
    worker. Member 0 keeps the seed a study without an ensemble has always had."""
    key = f"{study_seed}/{trial_number}/{fold}" + (f"/{member}" if member else "")
    return zlib.crc32(key.encode())


def new_model(cfg: TrainSpec, prepared: Prepared, seed: int, x: np.ndarray, y: np.ndarray) -> SequenceModel:
    """A fresh, seeded model of this config for this data, to be trained on (x, y)."""
    model = SequenceModel(cfg.cell, prepared.input_size, cfg.hidden_units, prepared.output_size,
                          activation=cfg.activation, num_layers=cfg.num_layers, seed=seed, dtype=cfg.dtype,
                          highway=min(cfg.highway, prepared.x.shape[1]))  # a searched highway may pass the window
    if model.highway:
        start_linear(model, x, y)
    return model


def start_linear(model: SequenceModel, x: np.ndarray, y: np.ndarray) -> None:
    """Start a model with a highway at the linear solution of its training data: A and c from ridge regression
    on the inputs the highway sees (RidgeCV, its penalty by leave-one-out), and the recurrence's head at zero.
    Training then moves both jointly, and the recurrence only has to learn what the linear model leaves
    (Zhang's 2003 ARIMA+ANN hybrid, fitted as one model)."""
    from ..data.baselines import ridge_fit  # sklearn: imported where it is used

    coef, intercept = ridge_fit(x[:, x.shape[1] - model.highway :].reshape(len(x), -1), y)  # ~1 ms
    model.params["A"][...] = coef
    model.params["c"][...] = intercept
    model.params["V"][...] = 0  # measured: a random head on top of the linear start only adds noise


def config_bytes(cfg: TrainSpec, prepared: Prepared, n_eval: int, models: int) -> int:
    """Estimated bytes to train `models` models of this config on this data as one stack (nn/sizes.py)."""
    return trial_bytes(cfg.cell, prepared.input_size, cfg.hidden_units, prepared.output_size, cfg.num_layers,
                       cfg.dtype, prepared.x.shape[1], min(cfg.batch_size, len(prepared.train_idx)), n_eval, models)


def train_model(cfg: TrainSpec, prepared: Prepared, seed: int, x: np.ndarray, y: np.ndarray, epochs: int,
                **fit_args: Any) -> tuple[SequenceModel, FitResult]:
    """A fresh model of this config, seeded, trained alone by fit (a stack of one) with the config's optimizer,
    batch size and clipping; fit_args (x_val, y_val, patience, on_epoch) pass through. Cross-validation and the
    final model train their models together (fit_stack); bench/stack.py times the two against each other."""
    model = new_model(cfg, prepared, seed, x, y)
    result = fit(model, make_optimizer(cfg.optimizer, **cfg.optimizer_settings()), x, y, epochs=epochs,
                 batch_size=cfg.batch_size, seed=seed, clip_norm=cfg.clip_norm or None, **fit_args)
    return model, result


def train_members(cfg: TrainSpec, prepared: Prepared, seeds: Sequence[int], x: np.ndarray, y: np.ndarray,
                  epochs: int, on_epoch: Callable[..., None] | None = None
                  ) -> tuple[list[SequenceModel], list[FitResult]]:
    """Models of this config, one per seed, trained on the same data as one stack (an ensemble); and how
    each one's training went. on_epoch as fit_stack's (a progress bar, say)."""
    stack = Stack([new_model(cfg, prepared, seed, x, y) for seed in seeds])
    results = fit_stack(stack, make_optimizer(cfg.optimizer, **cfg.optimizer_settings()), [(x, y)] * len(seeds),
                        epochs=epochs, batch_size=cfg.batch_size, seeds=seeds, clip_norm=cfg.clip_norm or None,
                        on_epoch=on_epoch)
    return [stack.member(k) for k in range(len(seeds))], results
