"""The LSTM cell, forward beside backward, and its initial biases."""

from __future__ import annotations

import numpy as np

from ..activations import Activation, const, tanh, tanh_by_exp
from .common import _T, Cache, Params, _gates_matmul

# ---------------------------------------------------------------- LSTM, gate blocks in the order [o, i, f, g]
#   o, i, f = sigmoid(.)   g = act(.)   c_t = f * c_{t-1} + i * g   h_t = o * act(c_t)
# The order puts the three sigmoid gates side by side (one reciprocal for all three) and the three gates that the cell
# gradient flows into (i, f, g) side by side (one broadcast multiply in the backward loop).


def lstm_forward(M: np.ndarray, hx: np.ndarray, act: Activation) -> Cache:
    f = act[0]
    T, lead, B, G = len(hx) - 1, hx.shape[1:-2], hx.shape[-1], M.shape[-2]
    H, dt = G // 4, hx.dtype
    by_exp = f is tanh and tanh_by_exp(G * B, dt)  # then one exp serves all four gates
    scale = np.full((G, 1), -1, dtype=dt)  # see "Pre-scaled weights"
    scale[3 * H :] = -2 if by_exp else 1
    Ms = M * scale
    one, two = const(1, dt), const(2, dt)
    # activated gates, gate-major: each gate block of a step is one contiguous array for every model of a stack
    # (a model-major block is strided over the models, and NumPy's elementwise calls on it cost 3-6x)
    z = np.empty((T, 4, *lead, H, B), dtype=dt)
    cs = np.zeros((T + 1, *lead, H, B), dtype=dt)
    tc = np.empty((T, *lead, H, B), dtype=dt)  # act(c_t)
    ig = np.empty((*lead, H, B), dtype=dt)
    pre = np.empty((*lead, G, B), dtype=dt) if lead else None  # a stack's matmul output, model-major
    # the gate blocks as views over all steps, sliced once: in the loop only [t] remains
    Sg, Gg, Og, Ig, Fg, Hs = z[:, :3], z[:, 3], z[:, 0], z[:, 1], z[:, 2], hx[..., :H, :]
    for t in range(T):
        zt, s, g = z[t], Sg[t], Gg[t]
        _gates_matmul(Ms, hx[t], zt, pre)  # (4, ..., H, B)
        e = zt if by_exp else s
        np.exp(e, out=e)
        e += one
        np.reciprocal(s, out=s)  # o, i, f
        if by_exp:
            np.divide(two, g, out=g)
            g -= one
        else:
            f(g, out=g)
        np.multiply(Fg[t], cs[t], out=cs[t + 1])  # f * c_{t-1}
        np.multiply(Ig[t], g, out=ig)  # i * g
        cs[t + 1] += ig
        f(cs[t + 1], out=tc[t])
        np.multiply(Og[t], tc[t], out=Hs[t + 1])  # h_t = o * act(c_t)
    return {"cs": cs, "tc": tc, "z": z, "M": M, "act": act}


def lstm_backward(dh: np.ndarray, cache: Cache) -> np.ndarray:
    cs, tc, z, M, (_, df) = (cache[k] for k in ("cs", "tc", "z", "M", "act"))
    T, lead, H, B = z.shape[0], z.shape[2:-2], z.shape[-2], z.shape[-1]
    G = 4 * H
    o, i, fg, g = z[:, 0], z[:, 1], z[:, 2], z[:, 3]  # gate-major (see lstm_forward)
    # Factors that do not depend on the recurrence, for all steps at once:
    s = z[:, :3]
    ds = np.subtract(1, s)
    ds *= s  # sigmoid' of o, i, f  (T, 3, ..., H, B)
    a_o = tc * ds[:, 0]  # dL/do_pre  = dh * a_o
    b_c = df(tc)
    b_c *= o  # dL/dc_t  += dh * b_c
    k = np.empty((T, 3, *lead, H, B), dtype=z.dtype)  # dL/d[i, f, g]_pre = dc * k, gate-major
    np.multiply(g, ds[:, 1], out=k[:, 0])
    np.multiply(cs[:-1], ds[:, 2], out=k[:, 1])
    np.multiply(df(g), i, out=k[:, 2])

    dz = np.empty((T, *lead, 4, H, B), dtype=z.dtype)  # returned model-major, as the weight gradient reads it
    flat = dz.reshape(T, *lead, G, B)
    # a stack's step is computed gate-major (contiguous blocks) and copied model-major once; one model's
    # step is already both
    step = np.empty((4, *lead, H, B), dtype=z.dtype) if lead else None
    UT = _T(M[..., :H])
    gh = dh[-1].copy()  # dL/dh_t, running
    dc = np.zeros((*lead, H, B), dtype=z.dtype)  # dL/dc_t, running
    dc_gates = dc[None]  # the same buffer, broadcast over the three gates it flows into
    tmp = np.empty((*lead, H, B), dtype=z.dtype)
    every_step = len(dh) > 1
    flow = cache.get("flow")  # diagnostics: every step's dL/dh_t kept when asked for
    for t in reversed(range(T)):
        if t < T - 1:
            np.matmul(UT, flat[t + 1], out=gh)
            if every_step:
                gh += dh[t]
        if flow is not None:
            flow[t] = gh
        out = dz[t] if step is None else step  # (4, ..., H, B)
        np.multiply(gh, a_o[t], out=out[0])
        np.multiply(gh, b_c[t], out=tmp)
        dc += tmp
        np.multiply(dc_gates, k[t], out=out[1:])  # i, f, g
        dc *= fg[t]  # carry to c_{t-1}
        if step is not None:
            np.copyto(dz[t], step.swapaxes(0, 1))
    return flat


def lstm_biases(H: int) -> Params:
    b = np.zeros(4 * H)
    b[2 * H : 3 * H] = 1.0  # forget gate (blocks o, i, f, g) open at the start: gradients flow through c
    return {"b": b}
