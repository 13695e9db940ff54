"""fit(): mini-batch training with clipping, early stopping and divergence detection.

Knows nothing of Optuna: the tuning layer watches progress through the on_epoch callback, which may raise
(optuna.TrialPruned, say) to stop training.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConfigError, DivergenceError
from .nn import Optimizer, SequenceModel, clip_by_global_norm, make_optimizer

if TYPE_CHECKING:
    from .data.prepare import Prepared
    from .spec import TrainSpec

EXPLODE_FACTOR = 100.0  # an epoch's training loss this many times the untrained model's counts as diverged


@dataclass
class FitResult:
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0  # 1-based epoch with the lowest monitored loss (restored when patience is set)
    stopped_early: bool = False

    @property
    def epochs_run(self) -> int:
        return len(self.train_loss)

    @property
    def best_val_loss(self) -> float | None:
        return self.val_loss[self.best_epoch - 1] if self.val_loss else None


def fit(
    model: SequenceModel,
    optimizer: Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    seed: int = 0,
    clip_norm: float | None = None,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    patience: int | None = None,
    on_epoch: Callable[[int, float, float | None], None] | None = None,
    validate: Callable[[SequenceModel], float] | None = None,
) -> FitResult:
    """Train in place. Each epoch visits the samples in a seeded random order, in mini-batches.

    With validation data and a patience, training stops after `patience` epochs without a better
    validation loss and the model is left with the weights of its best epoch. `validate(model)`, if given,
    replaces the validation MSE on (x_val, y_val) as the score to monitor (say, MSE in original units).
    A non-finite training or
    validation loss, or an epoch's training loss EXPLODE_FACTOR times the untrained model's (its loss on
    the first mini-batch), raises DivergenceError.
    """
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {name}={value!r}")
    if patience is not None and patience < 1:
        raise ConfigError(f"patience must be a positive integer, got patience={patience!r}")
    if clip_norm is not None and not clip_norm > 0:
        raise ConfigError(f"clip_norm must be positive, got clip_norm={clip_norm!r}")
    if len(x) != len(y):
        raise ConfigError(f"x and y must hold the same number of samples, got {len(x)} and {len(y)}")
    if validate is None and x_val is not None and y_val is not None:
        def validate(m: SequenceModel) -> float:
            return m.loss(x_val, y_val)

    rng = np.random.default_rng(seed)
    result = FitResult()
    best_val, best_params, since_best = np.inf, None, 0
    n = len(x)
    untrained = 1e-12  # the untrained model's loss: set on the first mini-batch
    for epoch in range(1, epochs + 1):
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            loss, grads = model.loss_and_grads(x[idx], y[idx])
            if not np.isfinite(loss):
                raise DivergenceError(epoch, f"training loss became {loss} (try a lower learning rate or clip_norm)")
            if epoch == 1 and start == 0:
                untrained = max(loss, 1e-12)
            clip_by_global_norm(grads, clip_norm)
            optimizer.step(model.params, grads)
            total += loss * len(idx)
        train_loss = total / n
        val_loss = validate(model) if validate is not None else None
        result.train_loss.append(train_loss)
        if val_loss is not None:
            result.val_loss.append(val_loss)

        if val_loss is not None and not np.isfinite(val_loss):
            raise DivergenceError(epoch, f"validation loss became {val_loss}")
        if train_loss > EXPLODE_FACTOR * untrained:
            raise DivergenceError(epoch, f"training loss exploded from {untrained:.4g} (untrained) to "
                                         f"{train_loss:.4g} (try a lower learning rate)")
        if on_epoch is not None:
            on_epoch(epoch, train_loss, val_loss)

        monitored = val_loss if val_loss is not None else train_loss
        if monitored < best_val:
            best_val, since_best, result.best_epoch = monitored, 0, epoch
            if patience is not None:
                best_params = {k: v.copy() for k, v in model.params.items()}
        else:
            since_best += 1
            if patience is not None and since_best >= patience:
                result.stopped_early = True
                break
    if best_params is not None and result.best_epoch != result.epochs_run:
        for k, v in best_params.items():
            model.params[k][...] = v
    return result


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
