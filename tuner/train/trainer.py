"""fit(): mini-batch training with clipping, early stopping and divergence detection; fit_stack(): the same
for every model of a stack at once, model by model the same arithmetic (tests/test_stack.py checks it against
fit to 1e-9).

Knows nothing of Optuna: the tuning layer watches progress through the on_epoch callback, which may raise
(optuna.TrialPruned, say) to stop training.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np
from threadpoolctl import threadpool_limits

from ..errors import ConfigError, DivergenceError
from ..nn import Optimizer, SequenceModel, clip_by_global_norm
from ..nn.optimizers import clip_stack, keep_models
from ..nn.stack import Stack

if TYPE_CHECKING:
    pass

F = TypeVar("F", bound=Callable[..., Any])

EXPLODE_FACTOR = 100.0  # an epoch's training loss this many times its reference (below) counts as diverged
FLOOR = 1e-12  # the reference's absolute floor, for data that is all zeros
BLOWN_UP = 1e3  # an untrained model's loss on standardised targets is about 1; this much means its outputs explode


def divergence_hint(untrained: float | None) -> str:
    """What the numbers say to try: a loss already huge (or not finite) before any update points at the
    architecture, not at the learning rate."""
    if untrained is None or not np.isfinite(untrained) or untrained > BLOWN_UP:
        return ("the untrained model's outputs already blow up (its loss on standardised targets is about 1 "
                "when they do not): an unbounded activation (identity, relu) compounds over the window's steps; "
                "try tanh, fewer layers or a shorter window")
    return "try a lower learning rate or a smaller clip_norm"


def exploded(train_loss: float, untrained: float, zero_loss: float) -> str | None:
    """Why an epoch's training loss counts as diverged, or None. The reference is the larger of the untrained
    model's loss and the loss of predicting zero (the targets' own scale): a model started at the ridge
    solution has an untrained loss near 0, and a rise from there to far below the data's scale is no divergence."""
    if not train_loss > EXPLODE_FACTOR * max(untrained, zero_loss, FLOOR):
        return None
    base = (f"the untrained model's loss ({untrained:.4g})" if untrained >= zero_loss
            else f"the loss of predicting zero ({zero_loss:.4g})")
    return (f"training loss exploded to {train_loss:.4g}, over {EXPLODE_FACTOR:g} times {base} "
            f"({divergence_hint(untrained)})")


@dataclass
class FitResult:
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0  # 1-based epoch with the lowest monitored loss (restored when patience is set)
    stopped_early: bool = False
    # per epoch, over its batches: the global gradient norm before clipping (median, max), the share clipped
    grad_norm_median: list[float] = field(default_factory=list)
    grad_norm_max: list[float] = field(default_factory=list)
    clipped: list[float] = field(default_factory=list)

    def record_norms(self, norms: list[float], clip_norm: float | None) -> None:
        """One epoch's batch norms. Plain Python: a few values per epoch, where NumPy's per-call cost would
        be most of a diagnostic that must stay cheap (docs/diagnostics.md: measured overhead)."""
        ordered = sorted(norms)
        mid = len(ordered) // 2
        self.grad_norm_median.append(ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2)
        self.grad_norm_max.append(ordered[-1])
        self.clipped.append(sum(v > clip_norm for v in ordered) / len(ordered) if clip_norm else 0.0)

    @property
    def epochs_run(self) -> int:
        return len(self.train_loss)

    @property
    def best_val_loss(self) -> float | None:
        return self.val_loss[self.best_epoch - 1] if self.val_loss else None


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
    validate: Callable[[SequenceModel], float] | None = None,
) -> FitResult:
    """Train in place. Each epoch visits the samples in a seeded random order, in mini-batches.

    With validation data and a patience, training stops after `patience` epochs without a better
    validation loss and the model is left with the weights of its best epoch. `validate(model)`, if given,
    replaces the validation MSE on (x_val, y_val) as the score to monitor (say, MSE in original units).
    A non-finite training or validation loss, or an epoch's training loss EXPLODE_FACTOR times the larger of the
    untrained model's (its loss on the first mini-batch) and the targets' scale (`exploded`), raises
    DivergenceError.
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
    untrained = FLOOR  # the untrained model's loss: set on the first mini-batch
    zero_loss = float(np.mean(np.square(y, dtype=np.float64))) if n else 0.0
    for epoch in range(1, epochs + 1):
        order = rng.permutation(n)
        total = 0.0
        norms = []
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            loss, grads = model.loss_and_grads(x[idx], y[idx])
            if epoch == 1 and start == 0:
                untrained = max(loss, FLOOR)
            if not np.isfinite(loss):
                raise DivergenceError(epoch, f"training loss became {loss} ({divergence_hint(untrained)})")
            norms.append(clip_by_global_norm(grads, clip_norm))
            optimizer.step(model.params, grads)
            total += loss * len(idx)
        train_loss = total / n
        val_loss = validate(model) if validate is not None else None
        result.train_loss.append(train_loss)
        result.record_norms(norms, clip_norm)
        if val_loss is not None:
            result.val_loss.append(val_loss)

        if val_loss is not None and not np.isfinite(val_loss):
            raise DivergenceError(epoch, f"validation loss became {val_loss}")
        reason = exploded(train_loss, untrained, zero_loss)
        if reason:
            raise DivergenceError(epoch, reason)
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


class NormLog:
    """Each model's gradient norms in its current epoch, for the diagnostics: at an epoch's end its median,
    largest and clipped share go to the model's FitResult (bench/diagnostics.py times this against nothing)."""

    def __init__(self, models: int, steps: int):
        self.norms = np.zeros((models, steps))
        self.count = np.zeros(models, dtype=int)

    def add(self, live: np.ndarray, norms: np.ndarray) -> None:
        self.norms[live, self.count[live]] = norms
        self.count[live] += 1

    def close_epoch(self, k: int, result: FitResult, clip_norm: float | None) -> None:
        result.record_norms(self.norms[k, : self.count[k]].tolist(), clip_norm)
        self.count[k] = 0


@one_blas_thread
def fit_stack(
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
) -> list[FitResult]:
    """fit() for every model k of the stack on its own data[k] = (x, y) with its own seeded batch order
    (seeds[k]): each step takes every model's next batch in one pass, and model k comes out as fit() makes it
    alone. Models do not wait for each other at epoch ends: one with less data runs through its epochs
    faster, so no step is spent on padding. validate[k] = (x_eval, score) scores model k's predictions after
    each of its epochs; a model that stops early, or has run its epochs, leaves the stack.

    on_epoch(epoch, results, ran) is called once every model has finished `epoch` (or stopped before it),
    in epoch order; `ran` marks the models that trained in it. A divergence names its model
    (DivergenceError.model)."""
    K = len(stack)
    if len(data) != K or len(seeds) != K or (validate is not None and len(validate) != K):
        raise ConfigError(f"a stack of {K} models needs {K} data sets, seeds and validation sets")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {name}={value!r}")
    n = np.array([len(x) for x, _ in data])
    if (n < 1).any() or any(len(x) != len(y) for x, y in data):
        raise ConfigError("every model of a stack needs samples, as many x as y")
    rngs = [np.random.default_rng(seed) for seed in seeds]
    evals = list(validate or [])
    n_eval = np.array([len(x) for x, _ in evals] or [0] * K)
    xe = np.zeros((K, int(n_eval.max()), *data[0][0].shape[1:]), dtype=stack.dtype)  # padded with 0
    for k, (x_eval, _) in enumerate(evals):
        xe[k, : n_eval[k]] = x_eval
    xb = np.zeros((K, batch_size, *data[0][0].shape[1:]), dtype=stack.dtype)  # one step's batches
    yb = np.zeros((K, batch_size, *data[0][1].shape[1:]), dtype=stack.dtype)
    results = [FitResult() for _ in range(K)]
    best_val, since_best = np.full(K, np.inf), np.zeros(K, dtype=int)
    best_params: list[np.ndarray | None] = [None] * K  # each model's row of `flat` at its best epoch
    untrained, total = np.ones(K), np.zeros(K)
    zero_loss = np.array([np.mean(np.square(y, dtype=np.float64)) for _, y in data])  # each model's data scale
    epoch, pos = np.ones(K, dtype=int), np.zeros(K, dtype=int)  # each model's epoch, and where it is in it
    xs: list[np.ndarray] = [np.empty(0)] * K  # each model's data in this epoch's order (shuffle)
    ys: list[np.ndarray] = [np.empty(0)] * K

    def shuffle(k: int) -> None:  # as fit: a fresh permutation from the model's own generator per epoch
        perm = rngs[k].permutation(n[k])
        xs[k], ys[k] = data[k][0][perm], data[k][1][perm]

    reported = 0

    def report_until(last: int) -> None:  # each epoch once every model has finished it, in order
        nonlocal reported
        while reported < last:
            reported += 1
            if on_epoch is not None:
                on_epoch(reported, results, np.array([r.epochs_run >= reported for r in results]))

    for k in range(K):
        shuffle(k)
    log = NormLog(K, int(-(-n.max() // batch_size)))
    live, sub = np.arange(K), stack  # the models still training, and the stack that computes them
    gflat = np.empty_like(sub.flat)
    gviews = sub.views(gflat)
    while len(live):
        L = len(live)
        counts = np.minimum(batch_size, n[live] - pos[live])
        for i, k in enumerate(map(int, live)):
            xb[i, : counts[i]] = xs[k][pos[k] : pos[k] + counts[i]]
            yb[i, : counts[i]] = ys[k][pos[k] : pos[k] + counts[i]]
        losses, grads = sub.stack_loss_and_grads(xb[:L], yb[:L], counts)
        first = (epoch[live] == 1) & (pos[live] == 0)
        untrained[live[first]] = np.maximum(losses[first], FLOOR)
        bad = np.flatnonzero(~np.isfinite(losses))
        if len(bad):
            k = int(live[bad[0]])
            raise DivergenceError(int(epoch[k]), f"training loss became {losses[bad[0]]} "
                                                 f"({divergence_hint(float(untrained[k]))})", model=k)
        for name, g in grads.items():  # into the flat layout: one optimizer update for every parameter
            gviews[name][...] = g
        log.add(live, clip_stack(gflat, clip_norm))  # the norms before clipping
        optimizer.step_stack(sub.flat, gflat, sub.decay)
        total[live] += losses * counts
        pos[live] += counts
        ended = np.flatnonzero(pos[live] == n[live])  # positions in `live` whose epoch is over
        if not len(ended):
            continue
        preds = None
        if evals:  # every model whose epoch ended, validated in one pass
            part = sub if len(ended) == L else sub.subset(ended)
            preds = part.stack_predict(xe[live[ended]])
        leaving = []
        for j, i in enumerate(map(int, ended)):
            k = int(live[i])
            r = results[k]
            train_loss = float(total[k] / n[k])
            val_loss = evals[k][1](preds[j, : n_eval[k]]) if preds is not None else None
            r.train_loss.append(train_loss)
            log.close_epoch(k, r, clip_norm)
            if val_loss is not None:
                r.val_loss.append(val_loss)
            if val_loss is not None and not np.isfinite(val_loss):
                raise DivergenceError(int(epoch[k]), f"validation loss became {val_loss}", model=k)
            reason = exploded(train_loss, float(untrained[k]), float(zero_loss[k]))
            if reason:
                raise DivergenceError(int(epoch[k]), reason, model=k)
            monitored = val_loss if val_loss is not None else train_loss
            if monitored < best_val[k]:
                best_val[k], since_best[k], r.best_epoch = monitored, 0, int(epoch[k])
                if patience is not None:
                    best_params[k] = sub.flat[i].copy()
            else:
                since_best[k] += 1
                if patience is not None and since_best[k] >= patience:
                    r.stopped_early = True
            if r.stopped_early or epoch[k] == epochs:
                leaving.append(i)
            else:
                epoch[k], pos[k], total[k] = epoch[k] + 1, 0, 0.0
                shuffle(k)
        if leaving:  # those models leave the stack; the rest go on without computing them
            if sub is not stack:
                stack.flat[live] = sub.flat
            keep = np.setdiff1d(np.arange(L), leaving)
            if len(keep):
                sub = sub.subset(keep)
                keep_models(optimizer, keep)
                gflat = np.empty_like(sub.flat)
                gviews = sub.views(gflat)
            live = live[keep]
        report_until(int(min(epoch[live] - 1)) if len(live) else max(r.epochs_run for r in results))
    for k, best in enumerate(best_params):
        if best is not None and results[k].best_epoch != results[k].epochs_run:
            stack.flat[k] = best
    return results
