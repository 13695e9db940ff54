"""SequenceModel: stacked recurrent layers and a dense head, with exact BPTT over the whole batch.

Parameters, in the column convention of nn/cells (names are the keys of `params` and of the gradients):
    W{l} (G*H, D_l)  U{l} (G*H, H)  b{l} (G*H,)  [bh{l} (H,) for gru]   layer l = 0 .. num_layers-1
    V (O, H)  c (O,)                                                    head: y = g(V h + c [+ A z])
    A (O, L*D)  with highway = L > 0: a linear term on the last L inputs z = [x_{T-L+1}; ...; x_T]
x is (batch, time, features). y is (batch, time, outputs) for a prediction at every step (`every_step`)
or (batch, outputs) for one prediction after the last step; its rank selects which.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, check_choice
from .activations import ACTIVATIONS
from .cells import CELLS, Cache
from .losses import LossFn, mse
from .sizes import activation_bytes

DTYPES = ("float32", "float64")
MAX_LAYERS = 4
MAX_STEPS = 100_000  # a highway longer than any window the data can make is a typo
PREDICT_BYTES = 256 << 20  # a forward pass without gradients keeps at most this much at once (predict in chunks)


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {name}={value!r}")
    return int(value)


def _glorot(rng: np.random.Generator, fan_out: int, fan_in: int) -> np.ndarray:
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_out, fan_in))


def _cols(a: np.ndarray) -> np.ndarray:
    """(T, R, B) -> (R, T*B): all steps side by side, so one matmul sums over steps and samples; with a
    model axis, (T, K, R, B) -> (K, R, T*B)."""
    return np.moveaxis(a, 0, -2).reshape(*a.shape[1:-1], -1)


def _T(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


def _orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))  # sign fix makes the distribution uniform (Haar)


class SequenceModel:
    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        output_size: int,
        activation: str = "tanh",
        num_layers: int = 1,
        seed: int = 0,
        dtype: str = "float64",
        output_activation: str = "identity",
        highway: int = 0,
    ):
        self._configure(cell, input_size, hidden_size, output_size, activation, num_layers, seed, dtype,
                        output_activation, highway)
        self.params = self._init_params(np.random.default_rng(self.seed))

    def _configure(self, cell: str, input_size: int, hidden_size: int, output_size: int, activation: str,
                   num_layers: int, seed: int, dtype: str, output_activation: str, highway: int = 0) -> None:
        """Check and set the constructor arguments; no weights yet."""
        check_choice("cell", cell, CELLS)
        check_choice("activation", activation, ACTIVATIONS)
        check_choice("output_activation", output_activation, ACTIVATIONS)
        if dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got dtype={dtype!r}")
        self.cell, self.activation, self.output_activation, self.dtype = cell, activation, output_activation, dtype
        self.input_size = _positive_int("input_size", input_size)
        self.hidden_size = _positive_int("hidden_size", hidden_size)
        self.output_size = _positive_int("output_size", output_size)
        self.num_layers = _positive_int("num_layers", num_layers)
        if self.num_layers > MAX_LAYERS:
            raise ConfigError(f"num_layers must be at most {MAX_LAYERS}, got num_layers={num_layers}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ConfigError(f"seed must be an integer, got seed={seed!r}")
        self.seed = int(seed)
        if isinstance(highway, bool) or not isinstance(highway, (int, np.integer)) or not 0 <= highway <= MAX_STEPS:
            raise ConfigError(f"highway must be an integer from 0 (off) to {MAX_STEPS}, got highway={highway!r}")
        self.highway = int(highway)

    # ------------------------------------------------------------------ construction

    def _init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Glorot input and head weights, orthogonal recurrent blocks, the cell's initial biases."""
        cell, H = CELLS[self.cell], self.hidden_size
        p: dict[str, np.ndarray] = {}
        for layer in range(self.num_layers):
            d = self.input_size if layer == 0 else H
            p[f"W{layer}"] = _glorot(rng, cell.gates * H, d)
            p[f"U{layer}"] = np.concatenate([_orthogonal(rng, H) for _ in range(cell.gates)], axis=0)
            p.update({f"{k}{layer}": v for k, v in cell.biases(H).items()})
        p["V"] = _glorot(rng, self.output_size, H)
        p["c"] = np.zeros(self.output_size)
        if self.highway:  # zeros: the model starts as the plain RNN, and no random draw moves
            p["A"] = np.zeros((self.output_size, self.highway * self.input_size))
        return {k: v.astype(self.dtype) for k, v in p.items()}

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Each parameter's shape, as _init_params makes them."""
        cell, H, out = CELLS[self.cell], self.hidden_size, self.output_size
        biases = {k: v.shape for k, v in cell.biases(H).items()}
        shapes: dict[str, tuple[int, ...]] = {}
        for layer in range(self.num_layers):
            d = self.input_size if layer == 0 else H
            shapes.update({f"W{layer}": (cell.gates * H, d), f"U{layer}": (cell.gates * H, H)})
            shapes.update({f"{k}{layer}": shape for k, shape in biases.items()})
        highway = {"A": (out, self.highway * self.input_size)} if self.highway else {}
        return {**shapes, "V": (out, H), "c": (out,), **highway}

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments: enough to rebuild this model."""
        keys = ("cell", "input_size", "hidden_size", "output_size", "activation", "num_layers", "seed", "dtype",
                "output_activation", "highway")
        return {k: getattr(self, k) for k in keys}

    @property
    def n_params(self) -> int:
        return int(sum(v.size for v in self.params.values()))

    # ------------------------------------------------------------------ validation at the boundary

    def _check_x(self, x: np.ndarray) -> np.ndarray:
        """(B, T, D) from the user -> (T, D, B) in the model's dtype: time-major, samples as columns."""
        x = np.asarray(x)
        if x.ndim != 3:
            raise ConfigError(f"x must have rank 3 (batch, time, features), got shape {x.shape}")
        if x.shape[2] != self.input_size:
            raise ConfigError(f"x has {x.shape[2]} features but the model has input_size={self.input_size}")
        if x.shape[0] < 1 or x.shape[1] < 1:
            raise ConfigError(f"x needs at least one sample and one step, got shape {x.shape}")
        if x.shape[1] < self.highway:
            raise ConfigError(f"x has {x.shape[1]} steps, fewer than the model's highway={self.highway} inputs")
        with np.errstate(over="ignore"):  # a value past the dtype's range becomes inf; the output then says so
            return np.ascontiguousarray(x.transpose(1, 2, 0), dtype=self.dtype)

    def _check_y(self, xt: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, bool]:
        """(B, O) -> (O, B), or (B, T, O) -> (O, T*B), the layout of the model's output; and whether
        y asks for a prediction at every step."""
        y = np.asarray(y, dtype=self.dtype)
        T, _, B = xt.shape
        if y.ndim == 2 and y.shape == (B, self.output_size):
            return np.ascontiguousarray(y.T), False
        if y.ndim == 3 and y.shape == (B, T, self.output_size):
            if self.highway:
                raise ConfigError("a model with a highway predicts after the last step only: y must be "
                                  f"(batch, outputs)={(B, self.output_size)}")
            return np.ascontiguousarray(y.transpose(2, 1, 0)).reshape(self.output_size, T * B), True
        raise ConfigError(
            f"y must be (batch, outputs)={(B, self.output_size)} or (batch, time, outputs)="
            f"{(B, T, self.output_size)} to match x, got shape {y.shape}"
        )

    # ------------------------------------------------------------------ forward and backward

    def _forward(self, xt: np.ndarray, every_step: bool) -> tuple[np.ndarray, list[tuple[np.ndarray, Cache]]]:
        """xt is (T, D, B). Returns the output, (O, T*B) or (O, B), and each layer's (hx, cache). With a
        stack's model axis (stack.py) every array has it before its last two axes: xt (T, K, D, B)."""
        cell = CELLS[self.cell]
        act = ACTIVATIONS[self.activation]
        p, H = self.params, self.hidden_size
        T, lead, B = xt.shape[0], xt.shape[1:-2], xt.shape[-1]
        caches, inp = [], xt
        for layer in range(self.num_layers):
            d = inp.shape[-2]
            hx = np.empty((T + 1, *lead, H + d + 1, B), dtype=self.dtype)  # slot t: [h_{t-1}; x_t; 1]
            hx[0, ..., :H, :] = 0
            hx[:T, ..., H : H + d, :] = inp
            hx[..., -1, :] = 1
            M = cell.pack({k: p[f"{k}{layer}"] for k in ("U", "W", *cell.biases(0))}, H, d)
            caches.append((hx, cell.forward(M, hx, act)))
            inp = hx[1:, ..., :H, :]  # (T, H, B)
        top = _cols(inp) if every_step else inp[-1]
        out = p["V"] @ top
        out += p["c"][..., None]
        if self.highway:
            out += p["A"] @ self._lags(xt)
        ACTIVATIONS[self.output_activation][0](out, out=out)
        return out, caches

    def _lags(self, xt: np.ndarray) -> np.ndarray:
        """The highway's input: the last L steps of xt (T, ..., D, B) as rows, oldest first: (..., L*D, B)."""
        last = xt[xt.shape[0] - self.highway :]
        return np.moveaxis(last, 0, -3).reshape(*xt.shape[1:-2], -1, xt.shape[-1])

    def predict(self, x: np.ndarray, every_step: bool = False) -> np.ndarray:
        """(B, T, D) -> (B, O), the prediction after the last step; or (B, T, O) with every_step=True. A batch
        whose forward pass would keep more than PREDICT_BYTES goes through in chunks (a panel's validation set:
        the same rows, each predicted alone of the others)."""
        rows = self.predict_rows(x.shape[1])
        if len(x) > rows:
            return np.concatenate([self.predict(x[i:i + rows], every_step) for i in range(0, len(x), rows)])
        xt = self._check_x(x)
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging model is caught by its loss
            out, _ = self._forward(xt, every_step)
        T, _, B = xt.shape
        return out.reshape(-1, T, B).transpose(2, 1, 0) if every_step else out.T

    def predict_rows(self, steps: int) -> int:
        """The most windows of `steps` steps one forward pass predicts at once (within PREDICT_BYTES)."""
        one = activation_bytes(self.cell, self.input_size, self.hidden_size, self.num_layers, steps, 1, self.dtype,
                               backward=False)
        return max(1, PREDICT_BYTES // max(one, 1))

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        """MSE of the model on (x, y), without gradients."""
        xt = self._check_x(x)
        yt, every_step = self._check_y(xt, y)
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging model is caught by its loss
            out, _ = self._forward(xt, every_step)
        return mse(out, yt)[0]

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """MSE loss and its exact gradient for every parameter. Pure: no state is kept between calls."""
        xt = self._check_x(x)
        yt, every_step = self._check_y(xt, y)
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging model is caught by its loss
            return self._loss_and_grads(xt, yt, every_step)

    def gradient_flow(self, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        """dL/dh_t for every layer and step: per layer (bottom first) an array (batch, time, hidden), the exact
        gradient of the batch's MSE with respect to each hidden state (what BPTT carries back through time)."""
        xt = self._check_x(x)
        yt, every_step = self._check_y(xt, y)
        flow: list[np.ndarray] = []
        with np.errstate(over="ignore", invalid="ignore"):
            self._loss_and_grads(xt, yt, every_step, flow=flow)
        return [f.transpose(2, 0, 1) for f in flow]

    def _loss_and_grads(self, xt: np.ndarray, yt: np.ndarray, every_step: bool, loss_fn: LossFn = mse,
                        flow: list[np.ndarray] | None = None) -> tuple[Any, dict[str, np.ndarray]]:
        """The loss and every parameter's gradient; with a model axis (stack.py), loss_fn returns one loss
        per model and the gradients carry the axis too. With `flow`, each layer's dL/dh_t for every step,
        (T, ..., H, B), is put in it, bottom layer first."""
        T, lead, B = xt.shape[0], xt.shape[1:-2], xt.shape[-1]
        p, H = self.params, self.hidden_size
        out, caches = self._forward(xt, every_step)
        loss, dout = loss_fn(out, yt)
        if self.output_activation != "identity":
            dout *= ACTIVATIONS[self.output_activation][1](out)

        top = caches[-1][0][1:, ..., :H, :]  # (T, H, B)
        grads: dict[str, np.ndarray] = {"c": dout.sum(axis=-1)}
        if self.highway:
            grads["A"] = dout @ _T(self._lags(xt))
        if every_step:
            grads["V"] = dout @ _T(_cols(top))
            dh = np.moveaxis((_T(p["V"]) @ dout).reshape(*lead, H, T, B), -2, 0)  # (T, H, B)
        else:
            grads["V"] = dout @ _T(top[-1])
            dh = (_T(p["V"]) @ dout)[None]  # the last step only: (1, H, B)
        cell = CELLS[self.cell]
        for layer in reversed(range(self.num_layers)):
            hx, cache = caches[layer]
            d = hx.shape[-2] - H - 1
            if flow is not None:
                cache["flow"] = np.empty((T, *lead, H, B), dtype=self.dtype)
                flow.insert(0, cache["flow"])
            dm = cell.backward(dh, cache)  # (T, rows of M, B)
            dM = cell.grad(_cols(dm), _cols(hx[:-1]), H)  # sums over steps and samples in one matmul
            grads.update({f"{k}{layer}": v for k, v in cell.unpack(dM, H, d).items()})
            if layer:
                dh = np.matmul(_T(cache["M"][..., H : H + d]), dm)  # (T, H, B): into the layer below's outputs
        return loss, {k: grads[k] for k in p}

    # ------------------------------------------------------------------ persistence: nn/io.py, no pickle

    def save(self, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Write PATH.npz (the arrays) and PATH.json (the constructor arguments, and `extra` under "extra").
        Returns the .npz path."""
        from .io import save

        return save(self, path, extra)

    @classmethod
    def load(cls, path: str | Path) -> SequenceModel:
        """Read a model written by save; a damaged, tampered or oversized file is one ConfigError (nn/io.py)."""
        from .io import load

        return load(path)
