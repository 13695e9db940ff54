"""The [search] section: what may be searched, how an entry is written, and how a trial draws its values.

Which keys are searchable is derived, not listed: every [train] field (but `ensemble`, which is part of
what a value means) and the [data] fields marked `searchable` in spec.py. A setting of only some
optimizers (momentum, beta1, ...) is found in the optimizers' constructor signatures, and drawn only when
the trial's optimizer is one of them: registering an optimizer is all it takes for its settings to be
searched.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from ..errors import ConfigError, TunerError
from .rules import type_name, type_ok
from .samplers import PRUNERS, SAMPLERS
from .space import Choice, Range
from .spec import DataSpec, StudySpec, TrainSpec

if typing.TYPE_CHECKING:
    import optuna


def searchable_keys() -> dict[str, tuple[str, frozenset[str] | None]]:
    """key -> (section, the optimizers it belongs to, or None for a key of every trial). Read afresh on each
    call: the registries are plain dicts, and one registered later counts at once."""
    from ..nn.optimizers import OPTIMIZERS, optimizer_settings

    settings = {name: set(optimizer_settings(name)) for name in OPTIMIZERS}
    common = set.intersection(*settings.values())
    out: dict[str, tuple[str, frozenset[str] | None]] = {}
    for f in dataclasses.fields(TrainSpec):
        if not f.metadata.get("searchable", True):
            continue
        owners = frozenset(n for n, s in settings.items() if f.name in s)
        out[f.name] = ("train", owners if owners and f.name not in common else None)
    for f in dataclasses.fields(DataSpec):
        if f.metadata.get("searchable"):
            out[f.name] = ("data", None)
    return out


def parse_entry(key: str, value: Any) -> Choice | Range:
    """One [search] entry: a list of choices, or a table {low, high, log, step}."""
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"search.{key} is an empty list; give at least one value to choose from")
        if any(isinstance(v, (list, dict)) for v in value):
            raise ConfigError(f"search.{key} choices must be plain values, got {value!r}")
        return Choice(tuple(value))
    if isinstance(value, dict):
        unknown = set(value) - {"low", "high", "log", "step"}
        if unknown or not {"low", "high"} <= set(value):
            raise ConfigError(f"search.{key} must be a list of choices or a table {{low, high, log, step}}, "
                              f"got {value!r}")
        low, high = value["low"], value["high"]
        if not all(type_ok(v, float) for v in (low, high)):
            raise ConfigError(f"search.{key}.low and .high must be finite numbers, got {value!r}")
        if low >= high:
            raise ConfigError(f"search.{key}.low must be below .high, got low={low!r} high={high!r}")
        log = value.get("log", False)
        if not isinstance(log, bool):
            raise ConfigError(f"search.{key}.log must be true or false, got log={log!r}")
        if log and low <= 0:
            raise ConfigError(f"search.{key} on a log scale needs low > 0, got low={low!r}")
        step = value.get("step")
        if step is not None:
            if not type_ok(step, float) or step <= 0:
                raise ConfigError(f"search.{key}.step must be a positive finite number, got step={step!r}")
            if log:
                raise ConfigError(f"search.{key}: step and log = true cannot be combined (Optuna samples a log "
                                  f"scale continuously); drop one of them")
            if step > high - low:
                raise ConfigError(f"search.{key}.step={step!r} is larger than the range {low!r}..{high!r}; "
                                  f"lower the step")
        return Range(low, high, log, step)
    raise ConfigError(f"search.{key} must be a list of choices or a table {{low, high, log}}, got {value!r}")


def check_values(key: str, entry: Choice | Range, train: TrainSpec, data: DataSpec) -> None:
    """Every value a search may produce must be valid in its section: try them through the spec."""
    section, _ = searchable_keys()[key]
    base = train if section == "train" else data
    hint = typing.get_type_hints(type(base))[key]
    candidates = entry.values if isinstance(entry, Choice) else (entry.low, entry.high)
    if isinstance(entry, Range) and hint is int and not entry.is_int:
        raise ConfigError(f"search.{key} is a whole number: low and high must be integers, got "
                          f"{entry.low!r}..{entry.high!r}")
    for value in candidates:
        if not type_ok(value, hint):
            raise ConfigError(f"search.{key} values must be {type_name(hint)}, got {value!r}")
        try:
            dataclasses.replace(base, **{key: value})
        except TunerError as exc:
            raise type(exc)(f"search.{key}: {exc}") from None


def parse_search(table: Any, train: TrainSpec, data: DataSpec) -> dict[str, Choice | Range]:
    """The [search] table, every value it can produce checked through its section's rules."""
    if not isinstance(table, dict):
        raise ConfigError("[search] must be a table")
    keys = searchable_keys()
    search = {}
    for key, value in table.items():
        if key not in keys:
            raise ConfigError(f"search.{key} cannot be searched; searchable keys: {', '.join(keys)}")
        search[key] = parse_entry(key, value)
        check_values(key, search[key], train, data)
    return search


def suggest(trial: optuna.Trial, spec: StudySpec) -> dict[str, Any]:
    """Draw every [search] entry; optimizer-specific ones only when their optimizer is the one chosen. A
    setting written above a searched `optimizer` waits until it is drawn, so the file's key order never
    decides what is searched (a file in the usual order draws in its own order, as ever)."""
    keys = searchable_keys()
    params: dict[str, Any] = {}
    waiting = []
    for key, entry in spec.search.items():
        if keys[key][1] is not None and "optimizer" in spec.search and "optimizer" not in params:
            waiting.append(key)
            continue
        _draw(trial, spec, key, entry, keys[key][1], params)
    for key in waiting:
        _draw(trial, spec, key, spec.search[key], keys[key][1], params)
    return params


def _draw(trial: optuna.Trial, spec: StudySpec, key: str, entry: Choice | Range, only_for: frozenset[str] | None,
          params: dict[str, Any]) -> None:
    if only_for is not None and params.get("optimizer", spec.train.optimizer) not in only_for:
        return
    if isinstance(entry, Choice):
        params[key] = trial.suggest_categorical(key, list(entry.values))
    elif isinstance(entry, Range) and entry.is_int:
        params[key] = trial.suggest_int(key, int(entry.low), int(entry.high), step=int(entry.step or 1),
                                        log=entry.log)
    else:
        params[key] = trial.suggest_float(key, entry.low, entry.high, step=entry.step, log=entry.log)


def make_sampler(spec: StudySpec, worker: int = 0) -> optuna.samplers.BaseSampler:
    """Seeded from the study seed; each worker of a study gets its own stream (seed + worker index)."""
    return SAMPLERS[spec.sampler](spec, (spec.seed + worker) % 2**32)


def make_pruner(spec: StudySpec) -> optuna.pruners.BasePruner:
    return PRUNERS[spec.pruner](spec)


__all__ = ["check_values", "make_pruner", "make_sampler", "parse_entry", "parse_search", "searchable_keys", "suggest"]
