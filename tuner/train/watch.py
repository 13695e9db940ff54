"""What training watches in each model: its loss against divergence (relative to the data's scale), early
stopping, and the gradient norms the diagnostics keep; FitResult is how its training went."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import DivergenceError

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


class NoNorms:
    """NormLog's interface, keeping nothing: training with the gradient diagnostics off."""

    def __init__(self, *_: object) -> None:
        pass

    def add(self, *_: object) -> None:
        pass

    def close_epoch(self, *_: object) -> None:
        pass


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


@dataclass
class Watch:
    """One model's divergence checks and early stopping, the same for every model a stack trains."""

    model: int  # its place in the stack, named by a DivergenceError
    patience: int | None
    zero_loss: float  # the loss of predicting zero: the targets' own scale
    untrained: float = FLOOR  # the loss of its first mini-batch
    best: float = np.inf
    since_best: int = 0

    def batch(self, epoch: int, first: bool, loss: float) -> None:
        if first:
            self.untrained = max(loss, FLOOR)
        if not np.isfinite(loss):
            raise DivergenceError(epoch, f"training loss became {loss} ({divergence_hint(self.untrained)})",
                                  model=self.model)

    def epoch_end(self, epoch: int, result: FitResult, train_loss: float, val_loss: float | None) -> bool:
        """Record the epoch and check it; True when it is the best so far (its weights are the ones to keep)."""
        result.train_loss.append(train_loss)
        if val_loss is not None:
            result.val_loss.append(val_loss)
            if not np.isfinite(val_loss):
                raise DivergenceError(epoch, f"validation loss became {val_loss}", model=self.model)
        reason = exploded(train_loss, self.untrained, self.zero_loss)
        if reason:
            raise DivergenceError(epoch, reason, model=self.model)
        monitored = val_loss if val_loss is not None else train_loss
        if monitored < self.best:
            self.best, self.since_best, result.best_epoch = monitored, 0, epoch
            return True
        self.since_best += 1
        result.stopped_early = self.patience is not None and self.since_best >= self.patience
        return False


__all__ = ["FitResult", "NoNorms", "NormLog", "Watch", "divergence_hint", "exploded"]
