"""The two kinds of [search] entry: a list of values to choose from, and a range."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Choice:
    """A list of values to choose from."""

    values: tuple[Any, ...]


@dataclass(frozen=True)
class Range:
    """low..high, on a log scale if `log`; integers when low and high are both integers."""

    low: float
    high: float
    log: bool = False
    step: float | None = None

    @property
    def is_int(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int) and (self.step is None or
                                                                             isinstance(self.step, int))
