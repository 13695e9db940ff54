"""Settings as frozen dataclasses, validated once when they are built from a TOML table.

Each spec checks the type of every key against its annotation, then its own rules in __post_init__; every
error names the key, the value received and what would be valid.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError, DataError, TunerError

SCHEMES = ("auto", "time", "kfold")
MISSING = ("error", "interpolate", "drop")
NORMALISE = ("none", "last")


def _type_ok(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (tuple, list):
        item = args[0] if args else Any
        return isinstance(value, (list, tuple)) and all(_type_ok(v, item) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin in (tuple, list):
        return f"a list of {_type_name(args[0])}s" if args else "a list"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false",
            type(None): "absent", dict: "a table"}.get(hint, getattr(hint, "__name__", str(hint)))


def from_table(cls: type, table: dict, section: str, **extra: Any) -> Any:
    """Build spec `cls` from a TOML table: unknown keys and wrong types fail naming `section.key`."""
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] must be a table, got {table!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    for key, value in table.items():
        if key not in names:
            raise ConfigError(f"unknown key {section}.{key}; valid keys in [{section}]: {', '.join(names)}")
        if not _type_ok(value, hints[key]):
            raise ConfigError(f"{section}.{key} must be {_type_name(hints[key])}, got {key}={value!r}")
    values = {k: tuple(v) if isinstance(v, list) and typing.get_origin(hints[k]) is tuple else v
              for k, v in table.items()}
    try:
        return cls(**values, **extra)
    except TunerError as exc:
        raise type(exc)(f"{section}.{exc}") from None


def positive(name: str, value: int | float) -> None:
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {name}={value!r}")


def one_of(name: str, value: Any, choices: typing.Iterable) -> None:
    choices = list(choices)
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, choices))}; got {name}={value!r}")


@dataclass(frozen=True)
class DataSpec:
    """[data]: which series, how it becomes windows, what is held out for the final test."""

    dataset: str = "sunspots"
    # dataset = "csv": the user's file
    path: str = ""
    target: str | tuple[str, ...] = ""
    features: tuple[str, ...] = ()
    time: str = ""
    missing: str = "error"
    # synthetic data: sine (n_points values) and adding (n_points sequences of `length` steps)
    n_points: int = 1000
    length: int = 30
    noise: float = 0.1
    # time range (inclusive, compared with the time column) and the held-out test split
    start: int | float | str | None = None
    end: int | float | str | None = None
    test_fraction: float = 0.2
    test_size: int = 0  # a number of points; overrides test_fraction when > 0
    # windows: `window` past steps -> the next `horizon` values, one window every `stride` steps
    window: int = 12
    horizon: int = 1
    stride: int = 1
    # transforms for trending series (each may also be searched in [search])
    log: bool = False
    difference: int = 0  # 1: model the first difference
    seasonal_difference: int = 0  # m > 0: also difference at lag m (12 for monthly data)
    normalise: str = "none"  # "last": each window relative to its last value
    seed: int = 0  # for synthetic data; set from the study's seed

    def __post_init__(self) -> None:
        from .data.datasets import DATASETS  # the registry lives with the loaders

        if self.dataset not in DATASETS:
            raise DataError(f"dataset must be one of {', '.join(sorted(DATASETS))}; got dataset={self.dataset!r}")
        one_of("missing", self.missing, MISSING)
        one_of("normalise", self.normalise, NORMALISE)
        one_of("difference", self.difference, (0, 1))
        for name in ("window", "horizon", "stride", "n_points", "length"):
            positive(name, getattr(self, name))
        if self.noise < 0:
            raise ConfigError(f"noise must be >= 0, got noise={self.noise!r}")
        if not 0 < self.test_fraction < 1:
            raise ConfigError(f"test_fraction must be between 0 and 1, got test_fraction={self.test_fraction!r}")
        for name in ("test_size", "seasonal_difference"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {name}={getattr(self, name)!r}")
        if self.seasonal_difference and self.horizon > self.seasonal_difference:
            raise ConfigError(f"horizon must be at most seasonal_difference={self.seasonal_difference} to undo "
                              f"the seasonal difference, got horizon={self.horizon}")

    @property
    def targets(self) -> tuple[str, ...]:
        return (self.target,) if isinstance(self.target, str) else tuple(self.target)


@dataclass(frozen=True)
class CVSpec:
    """[cv]: the folds every trial is scored on."""

    folds: int = 5
    scheme: str = "auto"  # time (TimeSeriesSplit) for series, kfold (shuffled) for independent sequences
    gap: int | None = None  # windows left out between train and validation; default: enough that none overlap

    def __post_init__(self) -> None:
        one_of("scheme", self.scheme, SCHEMES)
        if self.folds < 2:
            raise ConfigError(f"folds must be at least 2, got folds={self.folds!r}")
        if self.gap is not None and self.gap < 0:
            raise ConfigError(f"gap must be >= 0, got gap={self.gap!r}")


__all__ = ["CVSpec", "DataSpec", "field", "from_table"]
