"""The GRU cell (reset after the matmul), forward beside backward, its packing and gradient, and its
biases."""

from __future__ import annotations

import numpy as np

from ..activations import Activation, sigmoid_of_scaled, tanh, tanh_by_exp, tanh_of_scaled
from .common import _T, Cache, Params, _gates_matmul

# ---------------------------------------------------------------- GRU, gate blocks [z, r, n], reset after the matmul
#   z, r = sigmoid(.)   n = act(W_n x + b_n + r * (U_n h_{t-1} + bh))   h_t = (1 - z) * n + z * h_{t-1}
# "Reset after" (as cuDNN, PyTorch and Keras's default) keeps one fused matmul per step. bh is the recurrent
# bias of the candidate, the only one that is not redundant with b. Because r multiplies the recurrent part
# of n alone, M has four row blocks: [z, r] as usual, then U_n h + bh and W_n x + b_n apart.


def gru_pack(p: Params, H: int, D: int) -> np.ndarray:
    U, W, b = p["U"], p["W"], p["b"]
    M = np.zeros((*U.shape[:-2], 4 * H, H + D + 1), dtype=U.dtype)
    M[..., : 2 * H, :] = np.concatenate([U[..., : 2 * H, :], W[..., : 2 * H, :], b[..., : 2 * H, None]], axis=-1)
    M[..., 2 * H : 3 * H, :H], M[..., 2 * H : 3 * H, -1] = U[..., 2 * H :, :], p["bh"]
    M[..., 3 * H :, H:] = np.concatenate([W[..., 2 * H :, :], b[..., 2 * H :, None]], axis=-1)
    return M


def gru_unpack(dM: np.ndarray, H: int, D: int) -> Params:
    return {
        "U": np.concatenate([dM[..., : 2 * H, :H], dM[..., 2 * H : 3 * H, :H]], axis=-2),
        "W": np.concatenate([dM[..., : 2 * H, H : H + D], dM[..., 3 * H :, H : H + D]], axis=-2),
        "b": np.concatenate([dM[..., : 2 * H, -1], dM[..., 3 * H :, -1]], axis=-1),
        "bh": dM[..., 2 * H : 3 * H, -1],
    }


def gru_forward(M: np.ndarray, hx: np.ndarray, act: Activation) -> Cache:
    f = act[0]
    T, lead, B, H = len(hx) - 1, hx.shape[1:-2], hx.shape[-1], M.shape[-2] // 4
    dt = hx.dtype
    by_exp = f is tanh and tanh_by_exp(H * B, dt)
    scale = np.full((4 * H, 1), -1, dtype=dt)  # see "Pre-scaled weights"; n's two blocks carry its -2
    scale[2 * H :] = -2 if by_exp else 1
    Ms = M * scale
    # z, r, U_n h + bh (times -2 when by_exp), n (activated); gate-major, as in lstm_forward
    a = np.empty((T, 4, *lead, H, B), dtype=dt)
    # The last block, W_n x_t + b_n, does not depend on h: for all steps in one batched matmul, before the loop,
    # so the per-step matmul has 3H rows instead of 4H (its U columns would be zeros).
    np.matmul(Ms[..., 3 * H :, H:], hx[:T, ..., H:, :], out=a[:, 3])
    Mh = Ms[..., : 3 * H, :]
    tmp = np.empty((*lead, H, B), dtype=dt)
    pre = np.empty((*lead, 3 * H, B), dtype=dt) if lead else None  # a stack's matmul output, model-major
    # the gate blocks as views over all steps, sliced once: in the loop only [t] remains
    A3, ZR, Z, R, HN, N, Hs = a[:, :3], a[:, :2], a[:, 0], a[:, 1], a[:, 2], a[:, 3], hx[..., :H, :]
    for t in range(T):
        zr, z, r, hn, n, h_prev = ZR[t], Z[t], R[t], HN[t], N[t], Hs[t]
        _gates_matmul(Mh, hx[t], A3[t], pre)  # (3, ..., H, B)
        sigmoid_of_scaled(zr, out=zr)
        np.multiply(r, hn, out=tmp)
        n += tmp
        (tanh_of_scaled if by_exp else f)(n, out=n)
        np.subtract(h_prev, n, out=tmp)  # h_t = n + z * (h_{t-1} - n)
        tmp *= z
        np.add(n, tmp, out=Hs[t + 1])
    return {"hx": hx, "a": a, "M": M, "act": act, "hn_scale": -0.5 if by_exp else 1.0}


def gru_backward(dh: np.ndarray, cache: Cache) -> np.ndarray:
    hx, a, M, (_, df) = (cache[k] for k in ("hx", "a", "M", "act"))
    T, lead, H, B = a.shape[0], a.shape[2:-2], a.shape[-2], a.shape[-1]
    G4 = 4 * H
    z, r, hn, n = a[:, 0], a[:, 1], a[:, 2], a[:, 3]  # gate-major (see gru_forward)
    # Factors that do not depend on the recurrence, for all steps at once:
    p_n = (1 - z) * df(n)  # dL/dn_pre = dh * p_n
    p_z = (hx[:-1, ..., :H, :] - n) * z * (1 - z)  # dL/dz_pre = dh * p_z
    p_r = hn * r * (1 - r)  # dL/dr_pre = dn_pre * p_r
    if cache["hn_scale"] != 1:  # the forward stored -2 (U_n h + bh)
        p_r *= cache["hn_scale"]

    dm = np.empty((T, *lead, 4, H, B), dtype=a.dtype)  # dL/d[z_pre, r_pre, U_n h + bh, W_n x + b_n]
    flat = dm.reshape(T, *lead, G4, B)
    UT = _T(M[..., : 3 * H, :H])
    gh = dh[-1].copy()  # dL/dh_t, running
    direct = np.empty((*lead, H, B), dtype=a.dtype)
    F3 = flat[..., : 3 * H, :]  # what the recurrence reads back, over all steps
    step = np.empty((4, *lead, H, B), dtype=a.dtype) if lead else None  # gate-major, as in lstm_backward
    every_step = len(dh) > 1
    flow = cache.get("flow")  # diagnostics: every step's dL/dh_t kept when asked for
    for t in reversed(range(T)):
        if t < T - 1:
            np.multiply(gh, z[t + 1], out=direct)  # h_t reaches h_{t+1} directly through z
            np.matmul(UT, F3[t + 1], out=gh)
            gh += direct
            if every_step:
                gh += dh[t]
        if flow is not None:
            flow[t] = gh
        out = dm[t] if step is None else step  # (4, ..., H, B): z, r, U_n h + bh, n
        np.multiply(gh, p_z[t], out=out[0])
        np.multiply(gh, p_n[t], out=out[3])
        np.multiply(out[3], p_r[t], out=out[1])
        np.multiply(out[3], r[t], out=out[2])
        if step is not None:
            np.copyto(dm[t], step.swapaxes(0, 1))
    return flat


def gru_grad(dm: np.ndarray, s: np.ndarray, H: int) -> np.ndarray:
    """As dense_grad, without the block that pack leaves zero (the h columns of W_n x + b_n's rows)."""
    dM = np.zeros((*dm.shape[:-1], s.shape[-2]), dtype=dm.dtype)
    np.matmul(dm[..., : 3 * H, :], _T(s), out=dM[..., : 3 * H, :])
    np.matmul(dm[..., 3 * H :, :], _T(s[..., H:, :]), out=dM[..., 3 * H :, H:])
    return dM


def gru_biases(H: int) -> Params:
    return {"b": np.zeros(3 * H), "bh": np.zeros(H)}
