"""One trainer: fit_stack() trains the models of a stack at once (mini-batches, clipping, early stopping and
divergence checks, a Watch per model); fit() is a stack of one. A model in a stack of K comes out as in a
stack of one (tests/test_nn_stack.py holds them to 1e-9).

Knows nothing of Optuna: the tuning layer watches progress through the on_epoch callback, which may raise
(optuna.TrialPruned, say) to stop training.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np
from threadpoolctl import threadpool_limits

from ..errors import ConfigError
from ..nn import Optimizer, SequenceModel
from ..nn.optimizers import clip_stack, keep_models
from ..nn.stack import Stack
from .watch import FitResult, NoNorms, NormLog, Watch

if TYPE_CHECKING:
    pass

F = TypeVar("F", bound=Callable[..., Any])

def one_blas_thread(func: F) -> F:
    """Run `func` with one BLAS thread (scoped: the process's setting is restored after). These models are
    small: measured here, a stacked cross-validation ran as fast on one thread as on two when the machine was
    idle and 4% slower on two when it was busy, and a two-thread gradient matmul was once 47x slower than one
    thread on a busy machine. Every entry point trains so; pass threads=None to leave BLAS alone."""

    @functools.wraps(func)
    def wrapper(*args: Any, threads: int | None = 1, **kwargs: Any) -> Any:
        if threads is None:
            return func(*args, **kwargs)
        with threadpool_limits(threads):
            return func(*args, **kwargs)

    return cast(F, wrapper)


def _check_arguments(epochs: int, batch_size: int, patience: int | None, clip_norm: float | None) -> None:
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {name}={value!r}")
    if patience is not None and patience < 1:
        raise ConfigError(f"patience must be a positive integer, got patience={patience!r}")
    if clip_norm is not None and not clip_norm > 0:
        raise ConfigError(f"clip_norm must be positive, got clip_norm={clip_norm!r}")


@one_blas_thread
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
    validate: tuple[np.ndarray, Callable[[np.ndarray], float]] | None = None,
) -> FitResult:
    """Train one model in place: a stack of one (fit_stack), so every model tuner trains goes through one
    trainer. Each epoch visits the samples in a seeded random order, in mini-batches.

    With validation data and a patience, training stops after `patience` epochs without a better validation
    MSE (or `validate` = (x_eval, score), score(predictions) lower is better: MSE in original units, say) and
    the model is left with the weights of its best epoch. A non-finite training or validation loss,
    or an epoch's training loss EXPLODE_FACTOR times the larger of the untrained model's (its loss on the
    first mini-batch) and the targets' scale (`exploded`), raises DivergenceError. on_epoch(epoch,
    train_loss, val_loss) after each epoch may raise to stop training (the model keeps what it learnt)."""
    _check_arguments(epochs, batch_size, patience, clip_norm)
    if len(x) != len(y):
        raise ConfigError(f"x and y must hold the same number of samples, got {len(x)} and {len(y)}")
    if validate is None and x_val is not None and y_val is not None:
        y_eval = np.asarray(y_val, dtype=float)
        validate = (x_val, lambda pred: float(np.mean((pred - y_eval) ** 2)))

    def each_epoch(epoch: int, results: list[FitResult], ran: np.ndarray) -> None:
        r = results[0]
        if on_epoch is not None:
            on_epoch(epoch, r.train_loss[epoch - 1], r.val_loss[epoch - 1] if r.val_loss else None)

    stack = Stack([model])
    model.params = stack.member(0).params  # views into the stack: the model trains in place, seen live
    [result] = _fit_stack(stack, optimizer, [(x, y)], epochs=epochs, batch_size=batch_size, seeds=[seed],
                          clip_norm=clip_norm, patience=patience, validate=[validate] if validate else None,
                          on_epoch=each_epoch)
    return result


class _Run:
    """fit_stack's state: each model's data in its epoch's order, where it is in the epoch, its watch, and the
    sub-stack of the models still training."""

    def __init__(self, stack: Stack, data: Sequence[tuple[np.ndarray, np.ndarray]], batch_size: int,
                 seeds: Sequence[int], patience: int | None,
                 validate: Sequence[tuple[np.ndarray, Callable[[np.ndarray], float]]] | None, diagnose: bool = True):
        K = len(stack)
        if len(data) != K or len(seeds) != K or (validate is not None and len(validate) != K):
            raise ConfigError(f"a stack of {K} models needs {K} data sets, seeds and validation sets")
        self.n = np.array([len(x) for x, _ in data])
        if (self.n < 1).any() or any(len(x) != len(y) for x, y in data):
            raise ConfigError("every model of a stack needs samples, as many x as y")
        self.data, self.rngs = data, [np.random.default_rng(seed) for seed in seeds]
        self.evals = list(validate or [])
        self.n_eval = np.array([len(x) for x, _ in self.evals] or [0] * K)
        shape = data[0][0].shape[1:]
        self.xe = np.zeros((K, int(self.n_eval.max()), *shape), dtype=stack.dtype)  # padded with 0
        for k, (x_eval, _) in enumerate(self.evals):
            self.xe[k, : self.n_eval[k]] = x_eval
        self.xb = np.zeros((K, batch_size, *shape), dtype=stack.dtype)  # one step's batches
        self.yb = np.zeros((K, batch_size, *data[0][1].shape[1:]), dtype=stack.dtype)
        self.every_step = data[0][1].ndim == 3
        self.results = [FitResult() for _ in range(K)]
        self.watches = [Watch(k, patience, float(np.mean(np.square(y, dtype=np.float64))))
                        for k, (_, y) in enumerate(data)]
        self.best: list[np.ndarray | None] = [None] * K  # each model's row of `flat` at its best epoch
        self.total = np.zeros(K)
        self.epoch, self.pos = np.ones(K, dtype=int), np.zeros(K, dtype=int)  # each model's epoch and place in it
        self.xs: list[np.ndarray] = [np.empty(0)] * K
        self.ys: list[np.ndarray] = [np.empty(0)] * K
        for k in range(K):
            self.shuffle(k)
        self.log = (NormLog if diagnose else NoNorms)(K, int(-(-self.n.max() // batch_size)))
        self.live, self.sub = np.arange(K), stack  # the models still training, and the stack computing them

    def shuffle(self, k: int) -> None:  # a fresh permutation from the model's own generator per epoch
        perm = self.rngs[k].permutation(self.n[k])
        self.xs[k], self.ys[k] = self.data[k][0][perm], self.data[k][1][perm]

    def batches(self, batch_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every live model's next batch, padded to batch_size; and how many samples of each are real."""
        live, pos = self.live, self.pos
        counts = np.minimum(batch_size, self.n[live] - pos[live])
        for i, k in enumerate(map(int, live)):
            self.xb[i, : counts[i]] = self.xs[k][pos[k] : pos[k] + counts[i]]
            self.yb[i, : counts[i]] = self.ys[k][pos[k] : pos[k] + counts[i]]
        return self.xb[: len(live)], self.yb[: len(live)], counts

    def end_epochs(self, ended: np.ndarray, epochs: int, clip_norm: float | None) -> list[int]:
        """Score and check the models (positions in `live`) whose epoch just ended; the positions that leave."""
        preds = None
        if self.evals:  # every model whose epoch ended, validated in one pass
            part = self.sub if len(ended) == len(self.live) else self.sub.subset(ended)
            preds = part.stack_predict(self.xe[self.live[ended]], every_step=self.every_step)
        leaving = []
        for j, i in enumerate(map(int, ended)):
            k, r = int(self.live[i]), self.results[int(self.live[i])]
            val_loss = self.evals[k][1](preds[j, : self.n_eval[k]]) if preds is not None else None
            self.log.close_epoch(k, r, clip_norm)
            watch = self.watches[k]
            if watch.epoch_end(int(self.epoch[k]), r, float(self.total[k] / self.n[k]), val_loss) \
                    and watch.patience is not None:  # early stopping restores the best epoch's weights
                self.best[k] = self.sub.flat[i].copy()
            if r.stopped_early or self.epoch[k] == epochs:
                leaving.append(i)
            else:
                self.epoch[k], self.pos[k], self.total[k] = self.epoch[k] + 1, 0, 0.0
                self.shuffle(k)
        return leaving


    def leave(self, stack: Stack, leaving: list[int], optimizer: Optimizer) -> bool:
        """The models at positions `leaving` leave: their weights go back to `stack`, and the rest go on in a
        smaller sub-stack without computing them. True when some remain (the gradient buffers must follow)."""
        if self.sub is not stack:
            stack.flat[self.live] = self.sub.flat
        keep = np.setdiff1d(np.arange(len(self.live)), leaving)
        self.live = self.live[keep]
        if len(keep):
            self.sub = self.sub.subset(keep)
            keep_models(optimizer, keep)
        return bool(len(keep))


def _fit_stack(
    stack: Stack,
    optimizer: Optimizer,
    data: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    epochs: int,
    batch_size: int,
    seeds: Sequence[int],
    clip_norm: float | None = None,
    patience: int | None = None,
    validate: Sequence[tuple[np.ndarray, Callable[[np.ndarray], float]]] | None = None,
    on_epoch: Callable[[int, list[FitResult], np.ndarray], None] | None = None,
    diagnose: bool = True,
) -> list[FitResult]:
    """Train every model k of the stack on its own data[k] = (x, y) with its own seeded batch order (seeds[k]):
    each step takes every model's next batch in one pass, and model k comes out as it would trained alone.
    Models do not wait for each other at epoch ends: one with less data runs through its epochs faster, so
    no step is spent on padding. validate[k] = (x_eval, score) scores model k's predictions after each of its
    epochs; with a patience, a model stops after that many epochs without a better score and keeps its best
    epoch's weights; a model that stops, or has run its epochs, leaves the stack.

    on_epoch(epoch, results, ran) is called once every model has finished `epoch` (or stopped before it),
    in epoch order; `ran` marks the models that trained in it. A divergence names its model
    (DivergenceError.model). diagnose=False keeps no per-epoch gradient norms (FitResult's lists stay empty)."""
    _check_arguments(epochs, batch_size, patience, clip_norm)
    run = _Run(stack, data, batch_size, seeds, patience, validate, diagnose)
    reported = 0
    gflat = np.empty_like(stack.flat)
    gviews = stack.views(gflat)
    while len(run.live):
        live, sub = run.live, run.sub
        xb, yb, counts = run.batches(batch_size)
        losses, grads = sub.stack_loss_and_grads(xb, yb, counts)
        first = (run.epoch[live] == 1) & (run.pos[live] == 0)
        for i in np.flatnonzero(first | ~np.isfinite(losses)):  # the hot path asks only the models it concerns
            k = int(live[i])
            run.watches[k].batch(int(run.epoch[k]), bool(first[i]), float(losses[i]))
        for name, g in grads.items():  # into the flat layout: one optimizer update for every parameter
            gviews[name][...] = g
        run.log.add(live, clip_stack(gflat, clip_norm))  # the norms before clipping
        optimizer.step_stack(sub.flat, gflat, sub.decay)
        run.total[live] += losses * counts
        run.pos[live] += counts
        ended = np.flatnonzero(run.pos[live] == run.n[live])  # positions in `live` whose epoch is over
        if not len(ended):
            continue
        leaving = run.end_epochs(ended, epochs, clip_norm)
        if leaving and run.leave(stack, leaving, optimizer):
            gflat = np.empty_like(run.sub.flat)
            gviews = run.sub.views(gflat)
        done = int(min(run.epoch[run.live] - 1)) if len(run.live) else max(r.epochs_run for r in run.results)
        while reported < done:  # each epoch once every model has finished it, in order
            reported += 1
            if on_epoch is not None:
                on_epoch(reported, run.results, np.array([r.epochs_run >= reported for r in run.results]))
    for k, best in enumerate(run.best):
        if best is not None and run.results[k].best_epoch != run.results[k].epochs_run:
            stack.flat[k] = best
    return run.results


fit_stack = one_blas_thread(_fit_stack)  # fit, already on one thread, calls _fit_stack itself
