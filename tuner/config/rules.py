"""How a TOML table becomes a spec: each key's type checked against the field's annotation, lists made tuples
where a spec is hashed, and the spec's own errors named by section; the small checks every spec's rules use."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

from ..errors import ConfigError, TunerError


def type_ok(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(type_ok(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is float:  # NaN and inf are never a valid setting
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (tuple, list):
        item = args[0] if args else Any
        return isinstance(value, (list, tuple)) and all(type_ok(v, item) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    return isinstance(value, hint)


def type_name(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in args)
    if origin in (tuple, list):
        item = type_name(args[0]).removeprefix("an ").removeprefix("a ") if args else ""
        return f"a list of {item}s" if item else "a list"
    return {int: "an integer", float: "a finite number", str: "a string", bool: "true or false",
            type(None): "absent", dict: "a table"}.get(hint, getattr(hint, "__name__", str(hint)))


def check_table(cls: type, table: dict[str, Any], section: str, keys: list[str] | None = None) -> dict[str, Any]:
    """A TOML table's values for spec `cls`: unknown keys (of `keys`, default all fields) and wrong types
    fail naming `section.key`; lists become tuples where the field is a tuple."""
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] must be a table, got {table!r}")
    hints = typing.get_type_hints(cls)
    names = keys or [f.name for f in dataclasses.fields(cls) if f.init]
    for key, value in table.items():
        if key not in names:
            raise ConfigError(f"unknown key {section}.{key}; valid keys in [{section}]: {', '.join(names)}")
        if not type_ok(value, hints[key]):
            raise ConfigError(f"{section}.{key} must be {type_name(hints[key])}, got {key}={value!r}")
    return {k: tuple(v) if isinstance(v, list) and _takes_tuple(hints[k]) else v for k, v in table.items()}


def _takes_tuple(hint: Any) -> bool:
    """A field typed as a tuple, alone or in a union (`str | tuple[str, ...]`): a spec is frozen and hashed, so a
    TOML list must become a tuple there."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_takes_tuple(a) for a in typing.get_args(hint))
    return typing.get_origin(hint) is tuple


def build(cls: type, values: dict[str, Any], section: str, **extra: Any) -> Any:
    """cls(**values, **extra), its own validation errors prefixed with the section."""
    try:
        return cls(**values, **extra)
    except TunerError as exc:
        raise type(exc)(f"{section}.{exc}") from None


def from_table(cls: type, table: dict[str, Any], section: str, **extra: Any) -> Any:
    """Build spec `cls` from a TOML table: unknown keys and wrong types fail naming `section.key`."""
    return build(cls, check_table(cls, table, section), section, **extra)


def positive(name: str, value: int | float) -> None:
    if not value > 0:  # also refuses NaN
        raise ConfigError(f"{name} must be positive, got {name}={value!r}")


def one_of(name: str, value: Any, choices: typing.Iterable[Any]) -> None:
    choices = list(choices)
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, choices))}; got {name}={value!r}")


__all__ = ["build", "check_table", "from_table", "one_of", "positive", "type_name", "type_ok"]
