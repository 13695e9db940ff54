"""Recurrent cells: each one's forward over a whole sequence beside its backward (BPTT), a module per cell
(rnn, lstm, gru) and what they share in common.py.

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

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .common import (
    Backward,
    Cache,
    Forward,
    Grad,
    Pack,
    Params,
    Unpack,
    _pack_plain,
    _unpack_plain,
    dense_grad,
    zero_bias,
)
from .gru import gru_backward, gru_biases, gru_forward, gru_grad, gru_pack, gru_unpack
from .lstm import lstm_backward, lstm_biases, lstm_forward
from .rnn import rnn_backward, rnn_forward


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


__all__ = ["CELLS", "Cache", "Cell", "Params"]
