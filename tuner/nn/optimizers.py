"""Optimizers: small classes with step(params, grads), updating params in place.

State is created lazily per parameter name. Weight decay is an L2 penalty added to the gradient of the
weight matrices (ndim >= 2) only, never of biases: g <- g + weight_decay * p.

A stack of models (stack.py) steps with step_stack, on all its parameters laid out flat, a row a model.
"""

from __future__ import annotations

import inspect

import numpy as np

from ..errors import ConfigError, check_choice


class Optimizer:
    def __init__(self, lr: float, weight_decay: float = 0.0):
        if not (isinstance(lr, (int, float)) and lr > 0 and np.isfinite(lr)):
            raise ConfigError(f"learning_rate must be a positive number, got learning_rate={lr!r}")
        if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0):
            raise ConfigError(f"weight_decay must be a number >= 0, got weight_decay={weight_decay!r}")
        self.lr, self.weight_decay = float(lr), float(weight_decay)
        self.state: dict[str, dict[str, np.ndarray]] = {}
        self.t = 0  # steps taken

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        for name, p in params.items():
            g = grads[name]
            if self.weight_decay and p.ndim >= 2:
                g = g + self.weight_decay * p
            self._update(name, p, g)

    def step_stack(self, flat: np.ndarray, grad: np.ndarray, decay: np.ndarray) -> None:
        """One step of every model of a stack, its parameters laid out flat: `flat` and `grad` are (K, P), a row
        a model (stack.py). The models of a stack step together (one that stops leaves the stack), so one step
        count serves them all; weight decay acts on the entries `decay` marks, the weight matrices'."""
        self.t += 1
        if self.weight_decay:
            grad = grad + self.weight_decay * (flat * decay)
        self._update("flat", flat, grad)

    def _buffer(self, name: str, key: str, like: np.ndarray) -> np.ndarray:
        slot = self.state.setdefault(name, {})
        if key not in slot:
            slot[key] = np.zeros_like(like)
        return slot[key]

    def _update(self, name: str, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """p <- p - lr * g"""

    def __init__(self, lr: float = 0.01, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)

    def _update(self, name: str, p: np.ndarray, g: np.ndarray) -> None:
        p -= self.lr * g


class Momentum(Optimizer):
    """v <- momentum * v + g;  p <- p - lr * v,  or with nesterov  p <- p - lr * (g + momentum * v)"""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9, nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        if not 0 <= momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1), got momentum={momentum!r}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _update(self, name: str, p: np.ndarray, g: np.ndarray) -> None:
        v = self._buffer(name, "v", p)
        v *= self.momentum
        v += g
        p -= self.lr * (g + self.momentum * v) if self.nesterov else self.lr * v


class AdaGrad(Optimizer):
    """s <- s + g**2;  p <- p - lr * g / (sqrt(s) + eps)"""

    def __init__(self, lr: float = 0.01, eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self.eps = float(eps)

    def _update(self, name: str, p: np.ndarray, g: np.ndarray) -> None:
        s = self._buffer(name, "s", p)
        s += g * g
        p -= self.lr * g / (np.sqrt(s) + self.eps)


class RMSprop(Optimizer):
    """s <- rho * s + (1 - rho) * g**2;  p <- p - lr * g / (sqrt(s) + eps)"""

    def __init__(self, lr: float = 0.001, rho: float = 0.9, eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        if not 0 <= rho < 1:
            raise ConfigError(f"rho must be in [0, 1), got rho={rho!r}")
        self.rho, self.eps = float(rho), float(eps)

    def _update(self, name: str, p: np.ndarray, g: np.ndarray) -> None:
        s = self._buffer(name, "s", p)
        s *= self.rho
        s += (1 - self.rho) * (g * g)
        p -= self.lr * g / (np.sqrt(s) + self.eps)


class Adam(Optimizer):
    """m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g**2;  p <- p - lr * m_hat / (sqrt(v_hat) + eps)
    with the bias corrections m_hat = m / (1 - b1**t), v_hat = v / (1 - b2**t)."""

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        for key, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= beta < 1:
                raise ConfigError(f"{key} must be in [0, 1), got {key}={beta!r}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def _update(self, name: str, p: np.ndarray, g: np.ndarray) -> None:
        m, v = self._buffer(name, "m", p), self._buffer(name, "v", p)
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * (g * g)
        # the bias corrections folded into two scalars: same value as the docstring, fewer array passes
        step = self.lr / (1 - self.beta1**self.t)
        denom = np.sqrt(v)
        denom *= 1 / np.sqrt(1 - self.beta2**self.t)
        denom += self.eps
        p -= step * m / denom


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "momentum": Momentum,
    "adagrad": AdaGrad,
    "rmsprop": RMSprop,
    "adam": Adam,
}


def optimizer_settings(name: str) -> list[str]:
    """The settings of a registered optimizer besides its learning rate, read from its constructor."""
    check_choice("optimizer", name, OPTIMIZERS)
    return [k for k in inspect.signature(OPTIMIZERS[name].__init__).parameters if k not in ("self", "lr")]


def make_optimizer(name: str, **settings: float) -> Optimizer:
    """Build a registered optimizer; unknown names and settings fail with the valid ones."""
    check_choice("optimizer", name, OPTIMIZERS)
    cls = OPTIMIZERS[name]
    valid = ["lr", *optimizer_settings(name)]
    unknown = sorted(set(settings) - set(valid))
    if unknown:
        raise ConfigError(f"optimizer {name!r} has no setting {unknown[0]!r}; its settings are: {', '.join(valid)}")
    return cls(**settings)


def keep_models(optimizer: Optimizer, keep: np.ndarray) -> None:
    """Drop from a stack optimizer's state every model not at positions `keep` (the stack shrank)."""
    for slot in optimizer.state.values():
        for key, buffer in slot.items():
            slot[key] = buffer[keep]


def clip_stack(grad: np.ndarray, max_norm: float | None) -> np.ndarray:
    """clip_by_global_norm for each row (model) of a stack's flat gradient (K, P); returns the norms before."""
    norm = np.sqrt(np.einsum("kp,kp->k", grad, grad))
    if max_norm is not None and (norm > max_norm).any():
        grad *= np.where(norm > max_norm, max_norm / (norm + 1e-12), 1.0)[:, None].astype(grad.dtype)
    return norm


def clip_by_global_norm(grads: dict[str, np.ndarray], max_norm: float | None) -> float:
    """Scale all gradients in place so that their joint L2 norm is at most max_norm; return the norm before."""
    norm = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))
    if max_norm is not None and norm > max_norm:
        scale = max_norm / (norm + 1e-12)
        for g in grads.values():
            g *= scale
    return norm
