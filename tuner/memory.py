"""Sizes are bounded before anything is allocated: an estimate of what a trial, a data set or a saved model
needs, against what this process may use. One typo (hidden_units = 1000000000) must end in one line, not
in the kernel's OOM killer taking the host's other processes with it.

The estimates are upper bounds of the engine's real use (checked against tracemalloc in the tests), not
exact figures; the limit is the smaller of the memory the system has available and the address space
`ulimit -v` leaves this process, and one trial may take at most TRIAL_SHARE of it.
"""

from __future__ import annotations

import os
import resource

from .errors import TooLarge

TRIAL_SHARE = 0.5  # of the available memory one trial may plan on: temporaries, other workers, the OS
ITEMSIZE = {"float32": 4, "float64": 8}


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _address_space_left() -> int | None:
    """What `ulimit -v` leaves: the limit less what this process has mapped already."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/status") as f:
            used = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    except (OSError, StopIteration):
        used = 0
    return max(0, soft - used)


def available_bytes() -> int:
    """Memory this process can still use: free memory, and the address space left under ulimit -v."""
    limits = [v for v in (_meminfo_available(), _address_space_left()) if v is not None]
    return min(limits) if limits else 1 << 40


def gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB" if n >= 2**27 else f"{n / 2**20:.3g} MiB"


def check_fits(what: str, needed: int, fix: str, share: float = TRIAL_SHARE) -> None:
    """Raise TooLarge, naming the estimate and the limit, when `needed` bytes will not fit."""
    limit = int(available_bytes() * share)
    if needed > limit:
        raise TooLarge(f"{what} needs about {gib(needed)}, more than the {gib(limit)} this process may use; {fix}")


def _gates(cell: str) -> int:
    from .nn.cells import CELLS  # here: nn/model.py imports this module

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


def windows_bytes(n_windows: int, steps: int, features: int, outputs: int, copies: int) -> int:
    """Windowed data in float64: the windows themselves and `copies` scaled copies (one per fold, the test)."""
    return (1 + copies) * n_windows * (steps * features + 2 * outputs) * 8


__all__ = ["TRIAL_SHARE", "activation_bytes", "available_bytes", "check_fits", "model_bytes", "n_params",
           "trial_bytes", "windows_bytes"]
