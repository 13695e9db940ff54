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
from ..data.panel import PanelWindows
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


def plan_record(spec: StudySpec, url: str, n_trials: int, workers: int) -> dict[str, Any]:
    """Check what a run would check (preflight: data, sizes, the study's meaning, a writable storage; nothing
    written), then describe the run and time a short one: the plan as plain data (`--dry-run --json`)."""
    objective, _ = preflight(spec, url)
    prepared = objective.data(spec.data)
    w = prepared.windows
    data: dict[str, Any] = {"windows" if w is not None else "samples": len(prepared.x),
                            "test": len(prepared.test_idx)}
    if isinstance(w, PanelWindows):
        times = w.row_times(prepared.test_idx, spec.data.horizon)
        data.update(series=len(w.ids), rows=int(sum(len(p.times) for p in w.parts)), window=spec.data.window,
                    horizon=spec.data.horizon, test_first=str(times.min()), test_last=str(times.max()))
    elif w is not None:
        test_rows = w.target_rows(prepared.test_idx, spec.data.horizon)
        first, last = row_times(w.times, np.array([test_rows.min(), test_rows.max()]))
        data.update(rows=len(w.times), window=spec.data.window, horizon=spec.data.horizon,
                    test_first=str(first), test_last=str(last))
    else:
        data["steps"] = int(prepared.x.shape[1])
    data["folds"] = [{"train": len(train), "validate": len(val)} for train, val in prepared.folds]
    search = {key: {"choices": list(e.values)} if isinstance(e, Choice) else {"low": e.low, "high": e.high,
                                                                              "log": e.log}
              for key, e in spec.search.items()}
    typical = typical_params(spec)
    timed = spec.with_params(typical)
    epochs = min(TIMED_EPOCHS, timed.train.epochs)
    short = dataclasses.replace(timed, train=dataclasses.replace(timed.train, epochs=epochs, patience=0))
    started = time.perf_counter()
    cross_validate(short, objective.data(short.data), trial_number=0)
    per_epoch = (time.perf_counter() - started) / epochs
    trial = per_epoch * timed.train.epochs
    estimate = {"typical": typical, "epoch_seconds": per_epoch, "timed_epochs": epochs,
                "epochs": timed.train.epochs, "trial_seconds": trial, "n_trials": n_trials, "workers": workers,
                "study_seconds": trial * math.ceil(n_trials / workers)}
    return {"study": applicable(to_doc(spec), spec), "data": data, "search": search, "estimate": estimate,
            "storage": mask(url), "written": False}


def plan(spec: StudySpec, url: str, n_trials: int, workers: int) -> str:
    """The plan as the text `--dry-run` prints."""
    return render(plan_record(spec, url, n_trials, workers))


def render(record: dict[str, Any]) -> str:
    data, est = record["data"], record["estimate"]
    lines = ["# the study, every default filled in (keys its dataset and optimizers do not read left out)",
             tomli_w.dumps(record["study"]).rstrip(), "", "# the data"]
    if "rows" in data:
        many = f"{data['series']} series, " if "series" in data else ""
        lines.append(f"series: {many}{data['rows']} rows, {data['windows']} windows of {data['window']} steps "
                     f"-> {data['horizon']} ahead; test split: {data['test']} windows forecasting "
                     f"{data['test_first']} .. {data['test_last']} (never seen in tuning)")
    else:
        lines.append(f"sequences: {data['samples']} samples of {data['steps']} steps; test split: "
                     f"{data['test']} samples")
    unit = "windows" if "rows" in data else "samples"
    for i, fold in enumerate(data["folds"]):
        lines.append(f"fold {i}: trains on {fold['train']} {unit}, validates on {fold['validate']}")
    lines += ["", "# the search"]
    for key, entry in record["search"].items():
        lines.append(f"{key}: " + (f"one of {entry['choices']}" if "choices" in entry else
                                   f"{entry['low']} .. {entry['high']}" + (" (log scale)" if entry["log"] else "")))
    if not record["search"]:
        lines.append("(nothing searched: every trial trains the fixed [train] settings)")
    settings = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in est["typical"].items())
    workers = est["workers"]
    lines += ["", "# how long",
              f"a typical trial ({settings or 'the fixed settings'}): {est['epoch_seconds'] * 1000:.0f} ms an epoch "
              f"(timed over {est['timed_epochs']}), so about {_duration(est['trial_seconds'])} for {est['epochs']} "
              f"epochs",
              f"the study: {est['n_trials']} trials on {workers} worker{'s' if workers > 1 else ''}, about "
              f"{_duration(est['study_seconds'])} at most (early stopping and pruning end many trials sooner; hidden "
              f"units, batch size and window move a trial's time)",
              "", f"dry run: nothing was written to {record['storage']}"]
    return "\n".join(lines)


__all__ = ["plan", "plan_record", "render", "typical_params"]
