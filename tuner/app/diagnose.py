"""tuner diagnose: train a config briefly with each cell and show how the gradient flows back through time.

For each cell the config's model (its size, activation, optimizer, learning rate) trains for a few epochs on
the tuning windows, and the gradient-flow profile ||dL/dh_t||, t = 1..T, of its bottom layer is measured on a
batch of them (cv.gradient_diagnostics): a vanilla RNN's profile falls by orders of magnitude towards the
first steps (the vanishing gradient LSTM and GRU were made for), a gated cell's stays within reach.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from ..config.spec import StudySpec
from ..data.prepare import prepare
from ..evaluate.cv import gradient_diagnostics
from ..train.factory import train_members, trial_seed


def diagnose(spec: StudySpec, cells: list[str], epochs: int) -> dict[str, dict[str, Any]]:
    """Per cell: the gradient diagnostics after `epochs` epochs on the tuning windows, and the training loss."""
    prepared = prepare(spec.data, spec.cv, spec.seed)
    split = prepared.test()  # every window tuning sees; the test windows stay unseen
    out = {}
    for cell in cells:
        cfg = dataclasses.replace(spec.train, cell=cell, epochs=epochs, patience=0, ensemble=1)
        seed = trial_seed(spec.seed, 0, 0, 0)
        models, fits = train_members(cfg, prepared, [seed], split.x_train, split.y_train, epochs)
        out[cell] = {**gradient_diagnostics(models, fits, [(split.x_train, split.y_train)]),
                     "train_loss": fits[0].train_loss[-1]}
    return out


def table(found: dict[str, dict[str, Any]]) -> str:
    """The profiles side by side, relative to the last step, at a few steps; then the ratio and clipping."""
    steps = len(next(iter(found.values()))["grad_flow"][0])
    marks = sorted({0, steps // 4, steps // 2, (3 * steps) // 4, steps - 1})
    lines = [f"{'cell':<6} {'vanishing ratio':>16} {'clipped':>8} {'loss':>9}   ||dL/dh_t|| / ||dL/dh_T|| at t = "
             + ", ".join(str(t + 1) for t in marks)]
    for cell, d in found.items():
        flow = np.asarray(d["grad_flow"][0])
        rel = flow / flow[-1] if flow[-1] > 0 else flow
        lines.append(f"{cell:<6} {d['vanishing_ratio']:>16.3g} {d['clipped_fraction']:>8.0%} {d['train_loss']:>9.4g}"
                     f"   " + "  ".join(f"{rel[t]:.2g}" for t in marks))
    return "\n".join(lines)


def plot(found: dict[str, dict[str, Any]], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for cell, d in found.items():
        flow = np.asarray(d["grad_flow"][0])
        ax.semilogy(np.arange(1, len(flow) + 1), flow / flow[-1], lw=1.6,
                    label=f"{cell} (ratio {d['vanishing_ratio']:.2g})")
    ax.set_xlabel("step t of the window")
    ax.set_ylabel("||dL/dh_t|| / ||dL/dh_T||")
    ax.set_title(f"{title}: gradient flow back through time")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


__all__ = ["diagnose", "plot", "table"]
