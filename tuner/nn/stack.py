"""A stack of K independent models of one architecture, trained in one pass.

Every parameter, state and gradient gets a leading model axis: W0 (K, G*H, D), ..., all of them views into one
array `flat` (K, P) so that an optimizer step covers every parameter at once. The forward and backward
passes are its model's own (nn/cells and model.py index rows with `...`), so one batched matmul per step
serves all K models and each elementwise op covers all of them. Each model keeps its own seed (its initial
weights are those of SequenceModel(seed=...)), and its own data: a batch is (K, B, ...) with `counts[k]` real
samples for model k; the rest are padding that adds nothing to its loss or gradient. A model with count 0
is computed but masked: it does not move (train.fit_stack also keeps its optimizer state still).

Small RNNs are all per-call overhead (a GRU with hidden 23 and batch 8 runs a few hundred flops per matmul),
so K models' steps in one call cost little more than one model's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ConfigError
from .losses import masked_mse
from .model import SequenceModel


class Stack:
    """K models with the configuration of `models[0]`; member(k) is model k as a SequenceModel whose params
    are views into the stack (it predicts, saves and validates like any model, and sees every update). A stack
    is not a model: it has one (`model`, whose params carry the model axis) and runs its forward and backward
    passes, so a model's own methods (predict, save) are never called on K models by mistake."""

    def __init__(self, models: Sequence[SequenceModel]):
        if not models:
            raise ConfigError("a stack needs at least one model")
        first = models[0]
        arch = {k: v for k, v in first.config.items() if k != "seed"}
        for m in models[1:]:
            other = {k: v for k, v in m.config.items() if k != "seed"}
            if other != arch:
                raise ConfigError(f"a stack's models share one architecture; got {arch} and {other}")
        self.model = _shell(first.config)
        self.seeds = [m.seed for m in models]
        self._layout(first.params)
        self.flat = np.stack([np.concatenate([m.params[k].ravel() for k in first.params]) for m in models])
        self.params = self.model.params = self.views(self.flat)

    @property
    def dtype(self) -> str:
        return self.model.dtype

    def _layout(self, params: dict[str, np.ndarray]) -> None:
        """Where each parameter lives in a model's row of `flat`; and which entries are weight matrices."""
        self.shapes = {k: v.shape for k, v in params.items()}
        sizes = [int(np.prod(shape)) for shape in self.shapes.values()]
        self.offsets = dict(zip(self.shapes, np.cumsum([0, *sizes[:-1]]).tolist(), strict=True))
        self.decay = np.concatenate([np.full(n, len(shape) >= 2) for n, shape in zip(sizes, self.shapes.values(),
                                                                                      strict=True)])

    def views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Every parameter as a view into `flat` (K, P): params, gradients and optimizer state share one layout,
        so an optimizer step is one set of ufunc calls over all of a stack's parameters."""
        K = flat.shape[0]
        return {k: flat[:, o : o + int(np.prod(shape))].reshape(K, *shape)
                for (k, shape), o in zip(self.shapes.items(), self.offsets.values(), strict=True)}

    def __len__(self) -> int:
        return len(self.seeds)

    def member(self, k: int) -> SequenceModel:
        model = _shell({**self.model.config, "seed": self.seeds[k]})
        model.params = {name: p[k] for name, p in self.params.items()}
        return model

    def subset(self, keep: np.ndarray) -> Stack:
        """A stack of the models at positions `keep`, with copies of their parameters."""
        out = Stack.__new__(Stack)
        out.model = _shell(self.model.config)
        out.seeds = [self.seeds[i] for i in keep]
        out.shapes, out.offsets, out.decay = self.shapes, self.offsets, self.decay
        out.flat = self.flat[keep]
        out.params = out.model.params = out.views(out.flat)
        return out

    def _weights(self, counts: tuple[int, ...], B: int, T: int) -> np.ndarray:
        """(K, 1, T*B): 1 / (outputs x real columns) on model k's real columns, 0 on padding. Cached: most
        steps have the same counts."""
        cache = self.__dict__.setdefault("_weight_cache", {})
        key = (counts, B, T)
        if key not in cache:
            if len(cache) > 64:
                cache.clear()
            real = np.tile(np.arange(B) < np.array(counts)[:, None], (1, T))  # columns are t * B + b
            per_model = np.maximum(real.sum(axis=1), 1) * self.model.output_size
            cache[key] = (real / per_model[:, None])[:, None, :].astype(self.dtype)
        return cache[key]

    def stack_predict(self, x: np.ndarray, every_step: bool = False) -> np.ndarray:
        """x (K, N, T, D) -> each model's prediction after the last step, (K, N, O), or with every_step at
        every step, (K, N, T, O): one pass for all (in chunks of windows where it would keep more than
        PREDICT_BYTES)."""
        rows = max(1, self.model.predict_rows(x.shape[2]) // max(1, len(x)))
        if x.shape[1] > rows:
            return np.concatenate([self.stack_predict(x[:, i:i + rows], every_step)
                                   for i in range(0, x.shape[1], rows)], axis=1)
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging model is caught by its loss
            xt = np.ascontiguousarray(x.transpose(2, 0, 3, 1), dtype=self.dtype)  # (T, K, D, N)
            out, _ = self.model._forward(xt, every_step=every_step)
        if every_step:  # (K, O, T * N), columns t * N + n
            return out.reshape(out.shape[0], out.shape[1], x.shape[2], x.shape[1]).transpose(0, 3, 2, 1)
        return out.transpose(0, 2, 1)

    def stack_loss_and_grads(self, x: np.ndarray, y: np.ndarray, counts: np.ndarray
                             ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """x (K, B, T, D), y (K, B, O) or (K, B, T, O) for a prediction at every step; counts (K,) real
        samples per model, at the front of each model's batch. Returns each model's MSE over its real samples
        (0 for a model with none) and the gradients, each with the model axis first."""
        K, B, T = x.shape[0], x.shape[1], x.shape[2]
        if K != len(self) or x.shape[3] != self.model.input_size:
            raise ConfigError(f"x must be (models={len(self)}, batch, time, features={self.model.input_size}), got "
                              f"shape {x.shape}")
        xt = np.ascontiguousarray(x.transpose(2, 0, 3, 1), dtype=self.dtype)  # (T, K, D, B)
        every_step = y.ndim == 4
        if every_step:
            yt = np.ascontiguousarray(y.transpose(0, 3, 2, 1), dtype=self.dtype).reshape(K, -1, T * B)
        else:
            yt = np.ascontiguousarray(y.transpose(0, 2, 1), dtype=self.dtype)  # (K, O, B)
        weights = self._weights(tuple(np.asarray(counts).tolist()), B, T if every_step else 1)

        def loss_fn(out: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return masked_mse(out, target, weights)

        with np.errstate(over="ignore", invalid="ignore"):  # a diverging model is caught by its loss
            losses, grads = self.model._loss_and_grads(xt, yt, every_step, loss_fn)
        return np.asarray(losses, dtype=float), grads


def _shell(config: dict[str, Any]) -> SequenceModel:
    """A SequenceModel of this configuration without weights of its own (its params are set after)."""
    model = SequenceModel.__new__(SequenceModel)
    model._configure(**config)
    return model


__all__ = ["Stack"]
