"""The vanilla RNN cell, forward beside backward."""

from __future__ import annotations

import numpy as np

from ..activations import Activation, const, tanh, tanh_by_exp, tanh_of_scaled
from .common import _T, Cache

# ---------------------------------------------------------------- vanilla RNN: h_t = f(W x_t + U h_{t-1} + b)


def rnn_forward(M: np.ndarray, hx: np.ndarray, act: Activation) -> Cache:
    f, H, dt = act[0], M.shape[-2], hx.dtype
    by_exp = f is tanh and tanh_by_exp(H * hx.shape[-1], dt)  # per model: a stack takes the same path
    Ms = M * const(-2, dt) if by_exp else M  # see "Pre-scaled weights"
    Hs = hx[..., :H, :]
    for t in range(len(hx) - 1):
        h = Hs[t + 1]
        np.matmul(Ms, hx[t], out=h)  # (H, B)
        (tanh_of_scaled if by_exp else f)(h, out=h)
    return {"hx": hx, "M": M, "act": act}


def rnn_backward(dh: np.ndarray, cache: Cache) -> np.ndarray:
    hx, M, (_, df) = cache["hx"], cache["M"], cache["act"]
    T, H = len(hx) - 1, M.shape[-2]
    dfa = df(hx[1:, ..., :H, :])  # f'(a_t), all steps at once  (T, H, B)
    da = np.empty_like(dfa)  # dL/da_t
    UT = _T(M[..., :H])
    g = dh[-1].copy()  # dL/dh_t, running
    every_step = len(dh) > 1
    flow = cache.get("flow")  # diagnostics: every step's dL/dh_t kept when asked for
    for t in reversed(range(T)):
        if t < T - 1:
            np.matmul(UT, da[t + 1], out=g)
            if every_step:
                g += dh[t]
        if flow is not None:
            flow[t] = g
        np.multiply(g, dfa[t], out=da[t])
    return da
