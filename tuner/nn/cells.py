"""Recurrent cells: each one's forward over a whole sequence beside its backward (BPTT).

Convention, for every cell: column vectors, as in the textbook h_t = f(W x_t + U h_{t-1} + b).
A batch is a matrix whose columns are samples; arrays are time-major:
    x_t (D, B)   input at step t        h_t (H, B)   hidden state, h_0 = 0
    W (G*H, D)   input weights          U (G*H, H)   recurrent weights      b (G*H,) bias
G is the number of gate blocks: 1 for rnn, 4 for lstm, 3 for gru.

Every function also takes a stack of K independent models (stack.py): each array then has a model axis K
before its last two (rows, samples) axes, M (K, G*H, H+D+1), hx (T+1, K, H+D+1, B), so that one batched
matmul per step serves all K. The code indexes rows as `a[..., lo:hi, :]` and transposes with swapaxes, so
the same lines run both; `lead` below is () for one model and (K,) for a stack.

One matmul per step computes every pre-activation. The model keeps, for each step t, the stacked column
s_t = [h_{t-1}; x_t; 1] in a buffer `hx` of shape (T+1, H+D+1, B), and each cell packs its parameters
side by side into one matrix M with M @ s_t = [U | W | b] @ s_t = U h_{t-1} + W x_t + b. The cell writes
h_t into hx[t+1, :H]. The backward pass returns dL/d(M s_t) for every step, so that the model gets the
gradients of U, W and b together from a single matmul, dM = sum_t dL/d(M s_t) s_t^T, and unpacks them.

A cell is a `Cell` record of these functions (the CELLS registry maps names to them):
    biases(H)              -> {"b": ...}        initial biases (and any extra bias parameter, as GRU's bh)
    pack(p, H, D)          -> M                 params of one layer -> the fused matrix
    forward(M, hx, act)    -> cache             fills hx[1:, :H] with h_1 .. h_T
    backward(dh, cache)    -> dm                dL/d(M s_t) for all steps  (T, rows of M, B)
    grad(dm, s, H)         -> dM                sum_t dm_t s_t^T, steps and samples side by side
    unpack(dM, H, D)       -> grads             the fused gradient -> {"U": ..., "W": ..., "b": ...}
dh holds dL/dh_t for every step (T, H, B) when the model predicts at every step, or for the last step only
(1, H, B) when it predicts once after the last step.

Pre-scaled weights: sigmoid(x) = 1 / (1 + exp(-x)) and tanh(x) = 2 / (1 + exp(-2x)) - 1, so each forward
multiplies the rows of M that feed a sigmoid by -1 and those that feed a tanh by -2, once per sequence;
then one np.exp per step serves every gate, and a sigmoid costs three passes (exp, +1, reciprocal) and a
tanh four. An exp that overflows to inf gives the exact limits 0, -1. Stored activations are the true ones,
so the backward passes are unchanged.

Speed: with samples as columns, every gate block of a step is one contiguous (H, B) array, so each
elementwise op is a single fast loop. LSTM and GRU keep their gates gate-major, (T, gates, ..., H, B), so
that in a stack too a gate block of a step is one contiguous (K, H, B) array: model-major, it would be
strided over the models, and NumPy's elementwise calls on such a view cost 3-6x at these sizes (measured,
K = 4..20, H = 23, B = 8). A stack's per-step matmul writes model-major and one copy puts it gate-major;
a backward step computes gate-major and one copy puts it model-major, as the matmuls read it.
The loops over time hold only what is truly sequential: the matmul
and a few in-place ufuncs on preallocated buffers. Every factor of the backward pass that does not depend
on the recurrence is computed before the loop, for all steps in one vectorised pass.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .activations import Activation, const, sigmoid_of_scaled, tanh, tanh_by_exp, tanh_of_scaled

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


Pack = Callable[[Params, int, int], np.ndarray]
Unpack = Callable[[np.ndarray, int, int], Params]
Forward = Callable[[np.ndarray, np.ndarray, Activation], Cache]
Backward = Callable[[np.ndarray, Cache], np.ndarray]
Grad = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def zero_bias(H: int, gates: int) -> Params:
    return {"b": np.zeros(gates * H)}


def lstm_biases(H: int) -> Params:
    b = np.zeros(4 * H)
    b[2 * H : 3 * H] = 1.0  # forget gate (blocks o, i, f, g) open at the start: gradients flow through c
    return {"b": b}


def gru_biases(H: int) -> Params:
    return {"b": np.zeros(3 * H), "bh": np.zeros(H)}


@dataclass(frozen=True)
class Cell:
    """Everything the model needs of a cell; see the module docstring for each function's contract."""

    gates: int  # G: blocks of H rows in W, U and b
    forward: Forward
    backward: Backward
    biases: Callable[[int], Params]
    pack: Pack = _pack_plain
    unpack: Unpack = _unpack_plain
    grad: Grad = dense_grad


CELLS: dict[str, Cell] = {
    "rnn": Cell(1, rnn_forward, rnn_backward, lambda H: zero_bias(H, 1)),
    "lstm": Cell(4, lstm_forward, lstm_backward, lstm_biases),
    "gru": Cell(3, gru_forward, gru_backward, gru_biases, gru_pack, gru_unpack, gru_grad),
}
