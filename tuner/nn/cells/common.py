"""What every cell shares: the parameter types, the fused matrix's plain packing, the gate-major matmul and the
dense gradient (see the package docstring)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..activations import Activation

Cache = dict[str, Any]
Params = dict[str, np.ndarray]


def _T(a: np.ndarray) -> np.ndarray:
    """The transpose of each matrix (the last two axes)."""
    return np.swapaxes(a, -1, -2)


def _pack_plain(p: Params, H: int, D: int) -> np.ndarray:
    return np.concatenate([p["U"], p["W"], p["b"][..., None]], axis=-1)


def _unpack_plain(dM: np.ndarray, H: int, D: int) -> Params:
    return {"U": dM[..., :H], "W": dM[..., H : H + D], "b": dM[..., -1]}


def _gates_matmul(M: np.ndarray, s: np.ndarray, gates: np.ndarray, pre: np.ndarray | None) -> None:
    """M @ s into `gates`, (g, ..., H, B), gate-major: one model's (g*H, B) product already is, so it is
    written in place; a stack's (K, g*H, B) goes through `pre` and one copy (see "Speed")."""
    if pre is None:
        np.matmul(M, s, out=gates.reshape(-1, gates.shape[-1]))
    else:
        np.matmul(M, s, out=pre)
        np.copyto(gates, pre.reshape(*pre.shape[:-2], len(gates), -1, pre.shape[-1]).swapaxes(0, 1))


def dense_grad(dm: np.ndarray, s: np.ndarray, H: int) -> np.ndarray:
    """dM = dm s^T: dm is (rows of M, T*B), s the stacked states (H+D+1, T*B)."""
    return dm @ _T(s)


Pack = Callable[[Params, int, int], np.ndarray]
Unpack = Callable[[np.ndarray, int, int], Params]
Forward = Callable[[np.ndarray, np.ndarray, Activation], Cache]
Backward = Callable[[np.ndarray, Cache], np.ndarray]
Grad = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def zero_bias(H: int, gates: int) -> Params:
    return {"b": np.zeros(gates * H)}
