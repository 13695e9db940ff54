"""tuner tune --dry-run: everything checked, the plan printed, nothing written to the storage.

The plan: the resolved study file (every default filled in), the data (rows, windows per fold, the test
split's times), the search space, and how long a trial and the study should take, from timing a short
training run of a typical configuration (the middle of every range, the first of every choice).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import numpy as np
import tomli_w

from ..config.space import Choice, Range
from ..config.spec import StudySpec
from ..config.studyfile import applicable, to_doc
from ..data.times import row_times
from ..evaluate.cv import cross_validate
from ..redact import mask
from ..tuning.runner import preflight

TIMED_EPOCHS = 3  # the short run the estimate comes from


def typical_params(spec: StudySpec) -> dict[str, Any]:
    """The middle of every searched range (geometric on a log scale), the first of every choice."""
    out: dict[str, Any] = {}
    for key, entry in spec.search.items():
        if isinstance(entry, Choice):
            out[key] = entry.values[0]
        elif isinstance(entry, Range):
            mid = math.sqrt(entry.low * entry.high) if entry.log else (entry.low + entry.high) / 2
            out[key] = int(round(mid)) if entry.is_int else mid
    return out


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def plan(spec: StudySpec, url: str, n_trials: int, workers: int) -> str:
    """Check what a run would check (preflight: data, sizes, the study's meaning, a writable storage; nothing
    written), then describe the run and time a short one. Returns the text to print."""
    objective, _ = preflight(spec, url)
    doc = applicable(to_doc(spec), spec)
    lines = ["# the study, every default filled in (keys its dataset and optimizers do not read left out)",
             tomli_w.dumps(doc).rstrip(), "", "# the data"]
    prepared = objective.data(spec.data)
    w = prepared.windows
    if w is not None:
        rows = len(w.times)
        test_rows = w.target_rows(prepared.test_idx, spec.data.horizon)
        first, last = row_times(w.times, np.array([test_rows.min(), test_rows.max()]))
        lines.append(f"series: {rows} rows, {len(prepared.x)} windows of {spec.data.window} steps "
                     f"-> {spec.data.horizon} ahead; test split: {len(prepared.test_idx)} windows forecasting "
                     f"{first} .. {last} (never seen in tuning)")
    else:
        lines.append(f"sequences: {len(prepared.x)} samples of {prepared.x.shape[1]} steps; test split: "
                     f"{len(prepared.test_idx)} samples")
    unit = "windows" if w is not None else "samples"
    for i, (train, val) in enumerate(prepared.folds):
        lines.append(f"fold {i}: trains on {len(train)} {unit}, validates on {len(val)}")
    lines += ["", "# the search"]
    for key, entry in spec.search.items():
        lines.append(f"{key}: " + (f"one of {list(entry.values)}" if isinstance(entry, Choice) else
                                   f"{entry.low} .. {entry.high}" + (" (log scale)" if entry.log else "")))
    if not spec.search:
        lines.append("(nothing searched: every trial trains the fixed [train] settings)")

    typical = typical_params(spec)
    timed = spec.with_params(typical)
    epochs = min(TIMED_EPOCHS, timed.train.epochs)
    short = dataclasses.replace(timed, train=dataclasses.replace(timed.train, epochs=epochs, patience=0))
    started = time.perf_counter()
    cross_validate(short, objective.data(short.data), trial_number=0)
    per_epoch = (time.perf_counter() - started) / epochs
    trial = per_epoch * timed.train.epochs
    rounds = math.ceil(n_trials / workers)
    settings = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in typical.items())
    lines += ["", "# how long",
              f"a typical trial ({settings or 'the fixed settings'}): {per_epoch * 1000:.0f} ms an epoch (timed "
              f"over {epochs}), so about {_duration(trial)} for {timed.train.epochs} epochs",
              f"the study: {n_trials} trials on {workers} worker{'s' if workers > 1 else ''}, about "
              f"{_duration(trial * rounds)} at most (early stopping and pruning end many trials sooner; hidden "
              f"units, batch size and window move a trial's time)",
              "", f"dry run: nothing was written to {mask(url)}"]
    return "\n".join(lines)


__all__ = ["plan", "typical_params"]
