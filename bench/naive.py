"""The straightforward per-sample loop that tutorial code trains with, for the engine benchmark.

One sequence at a time, one step at a time, one matrix-vector product per gate, tanh activation, a linear
head on the last step and MSE. It reads the same parameters as tuner's SequenceModel (the fused matrices
split into their gate blocks), and bench/engine.py checks that it returns the same gradients, so the speed
comparison is like for like.
"""

from __future__ import annotations

import numpy as np


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def blocks(p: dict[str, np.ndarray], name: str, n: int) -> list[np.ndarray]:
    return np.split(p[name], n, axis=0)


def rnn_sample(p, x, y, H):
    W, U, b, V, c = p["W0"], p["U0"], p["b0"], p["V"], p["c"]
    hs = [np.zeros(H, dtype=W.dtype)]
    for t in range(len(x)):
        hs.append(np.tanh(W @ x[t] + U @ hs[-1] + b))
    out = V @ hs[-1] + c
    dout = 2 * (out - y)
    g = {k: np.zeros_like(v) for k, v in p.items()}
    g["V"] += np.outer(dout, hs[-1])
    g["c"] += dout
    dh = V.T @ dout
    for t in reversed(range(len(x))):
        da = dh * (1 - hs[t + 1] ** 2)
        g["W0"] += np.outer(da, x[t])
        g["U0"] += np.outer(da, hs[t])
        g["b0"] += da
        dh = U.T @ da
    return g


def lstm_sample(p, x, y, H):
    Wo, Wi, Wf, Wg = blocks(p, "W0", 4)
    Uo, Ui, Uf, Ug = blocks(p, "U0", 4)
    bo, bi, bf, bg = blocks(p, "b0", 4)
    V, c = p["V"], p["c"]
    h, cell = np.zeros(H, dtype=V.dtype), np.zeros(H, dtype=V.dtype)
    steps = []
    for t in range(len(x)):
        o = sigmoid(Wo @ x[t] + Uo @ h + bo)
        i = sigmoid(Wi @ x[t] + Ui @ h + bi)
        f = sigmoid(Wf @ x[t] + Uf @ h + bf)
        gg = np.tanh(Wg @ x[t] + Ug @ h + bg)
        c_prev, h_prev = cell, h
        cell = f * c_prev + i * gg
        h = o * np.tanh(cell)
        steps.append((o, i, f, gg, c_prev, h_prev, cell))
    out = V @ h + c
    dout = 2 * (out - y)
    g = {k: np.zeros_like(v) for k, v in p.items()}
    g["V"] += np.outer(dout, h)
    g["c"] += dout
    dW, dU, db = (np.split(g[k], 4, axis=0) for k in ("W0", "U0", "b0"))
    dh, dc = V.T @ dout, np.zeros(H, dtype=V.dtype)
    for t in reversed(range(len(x))):
        o, i, f, gg, c_prev, h_prev, cell = steps[t]
        tc = np.tanh(cell)
        do = dh * tc * o * (1 - o)
        dc = dc + dh * o * (1 - tc**2)
        di = dc * gg * i * (1 - i)
        df = dc * c_prev * f * (1 - f)
        dg = dc * i * (1 - gg**2)
        dh = np.zeros(H, dtype=V.dtype)
        for k, d, Uk in ((0, do, Uo), (1, di, Ui), (2, df, Uf), (3, dg, Ug)):
            dW[k] += np.outer(d, x[t])
            dU[k] += np.outer(d, h_prev)
            db[k] += d
            dh += Uk.T @ d
        dc = dc * f
    return g


def gru_sample(p, x, y, H):
    Wz, Wr, Wn = blocks(p, "W0", 3)
    Uz, Ur, Un = blocks(p, "U0", 3)
    bz, br, bn = blocks(p, "b0", 3)
    bh, V, c = p["bh0"], p["V"], p["c"]
    h = np.zeros(H, dtype=V.dtype)
    steps = []
    for t in range(len(x)):
        z = sigmoid(Wz @ x[t] + Uz @ h + bz)
        r = sigmoid(Wr @ x[t] + Ur @ h + br)
        hn = Un @ h + bh
        n = np.tanh(Wn @ x[t] + bn + r * hn)
        steps.append((z, r, hn, n, h))
        h = (1 - z) * n + z * h
    out = V @ h + c
    dout = 2 * (out - y)
    g = {k: np.zeros_like(v) for k, v in p.items()}
    g["V"] += np.outer(dout, h)
    g["c"] += dout
    dW, dU, db = (np.split(g[k], 3, axis=0) for k in ("W0", "U0", "b0"))
    dh = V.T @ dout
    for t in reversed(range(len(x))):
        z, r, hn, n, h_prev = steps[t]
        dn = dh * (1 - z) * (1 - n**2)
        dz = dh * (h_prev - n) * z * (1 - z)
        dr = dn * hn * r * (1 - r)
        dhn = dn * r
        for k, d in ((0, dz), (1, dr), (2, dn)):
            dW[k] += np.outer(d, x[t])
            db[k] += d
        dU[0] += np.outer(dz, h_prev)
        dU[1] += np.outer(dr, h_prev)
        dU[2] += np.outer(dhn, h_prev)
        g["bh0"] += dhn
        dh = dh * z + Uz.T @ dz + Ur.T @ dr + Un.T @ dhn
    return g


SAMPLE = {"rnn": rnn_sample, "lstm": lstm_sample, "gru": gru_sample}


def grads(cell: str, p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Mean-squared-error gradients over a batch, one sample at a time: x (B, T, D), y (B, O)."""
    H = p["U0"].shape[1]
    total = {k: np.zeros_like(v) for k, v in p.items()}
    for b in range(len(x)):
        for k, g in SAMPLE[cell](p, x[b], y[b], H).items():
            total[k] += g
    scale = 1.0 / y.size
    return {k: (v * scale).astype(p[k].dtype) for k, v in total.items()}
