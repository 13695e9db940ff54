"""What a model and a trial need in bytes, estimated before anything is allocated (tuner.limits says whether
it fits). Upper bounds of the engine's real use, checked against tracemalloc in the tests, not exact figures.
"""

from __future__ import annotations

from .cells import CELLS

ITEMSIZE = {"float32": 4, "float64": 8}


def _gates(cell: str) -> int:
    return CELLS[cell].gates if cell in CELLS else max(c.gates for c in CELLS.values())


def n_params(cell: str, input_size: int, hidden: int, output_size: int, layers: int, highway: int = 0) -> int:
    """Weights and biases of a model (an extra bias per gate block counted for any cell that has one), and the
    highway's weights on its last `highway` inputs."""
    G = _gates(cell)
    total = 0
    for layer in range(layers):
        d = input_size if layer == 0 else hidden
        total += G * hidden * (hidden + d + 2)
    return total + output_size * (hidden + 1 + highway * input_size)


def model_bytes(cell: str, input_size: int, hidden: int, output_size: int, layers: int, dtype: str,
                copies: int = 1, highway: int = 0) -> int:
    """The weights alone (`copies` of them: gradients, optimizer state, the best epoch's weights...)."""
    return copies * n_params(cell, input_size, hidden, output_size, layers, highway) * ITEMSIZE.get(dtype, 8)


def activation_bytes(cell: str, input_size: int, hidden: int, layers: int, steps: int, batch: int,
                     dtype: str, backward: bool = True) -> int:
    """What a forward pass keeps for BPTT (the stacked [h; x; 1] per step and the gates), and with `backward`
    the gradient buffers of the same size and their all-steps copies."""
    G = _gates(cell)
    total = 0
    for layer in range(layers):
        d = input_size if layer == 0 else hidden
        stacked, gates = (steps + 1) * (hidden + d + 1) * batch, steps * G * hidden * batch
        total += (2 * stacked + 6 * gates) if backward else (stacked + 3 * gates)
    return total * ITEMSIZE.get(dtype, 8)


def trial_bytes(cell: str, input_size: int, hidden: int, output_size: int, layers: int, dtype: str,
                steps: int, batch: int, n_eval: int, models: int = 1) -> int:
    """One trial's model work, for `models` models trained as one stack (every fold and ensemble member):
    per model its weights, gradients, optimizer state and best-epoch copy (6 copies, the packed weights
    included) and the training activations of one batch, plus one model's forward pass over its evaluation
    windows (validation runs model by model) and the epoch's shuffled copy of the data."""
    weights = model_bytes(cell, input_size, hidden, output_size, layers, dtype, highway=steps)  # highway <= steps
    train = activation_bytes(cell, input_size, hidden, layers, steps, batch, dtype)
    evaluate = activation_bytes(cell, input_size, hidden, layers, steps, max(n_eval, 1), dtype, backward=False)
    return models * (6 * weights + train) + evaluate
