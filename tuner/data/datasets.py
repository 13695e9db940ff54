"""Built-in datasets and the CSV loader.

A series dataset loads as a DataFrame: one row per time step in time order, the target column(s) first and
any feature columns after, indexed by time when there is a time column. A sequence dataset (`adding`)
loads as independent (x, y) samples instead.

Shipped data (public):
  sunspots.csv  yearly mean sunspot numbers 1700-2008 (309 values), NOAA National Geophysical Data Center,
                as distributed with statsmodels.
  airline.csv   Box & Jenkins series G: monthly international airline passengers (thousands), 1949-1960.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError
from .csv import read_csv
from .synthetic import adding_problem, noisy_sines

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Sequences:
    """Independent samples: x (N, T, D), y (N, O)."""

    x: np.ndarray
    y: np.ndarray


def _packaged(name: str) -> Path:
    return Path(str(resources.files("tuner.data") / name))


# the shipped series: name -> (file in tuner/data, value column, time column)
SHIPPED: dict[str, tuple[str, str, str]] = {
    "sunspots": ("sunspots.csv", "sunspots", "year"),
    "airline": ("airline.csv", "passengers", "month"),
}


def forecast_columns(spec, path: str | Path) -> tuple[list[str], list[str], str | None]:
    """(targets, features, time column) that a new CSV to forecast from must have: the study's own columns
    for csv data; for a built-in series its value column, and its time column if the file has one."""
    if DATASETS[spec.dataset].reads_file:
        return list(spec.targets), list(spec.features), spec.time or None
    _, column, time = SHIPPED.get(spec.dataset, ("", "value", ""))
    return [column], [], time if time and _has_column(path, time) else None


def _has_column(path: str | Path, column: str) -> bool:
    import pandas as pd

    try:
        return column in pd.read_csv(path, comment="#", nrows=0).columns
    except Exception:  # an unreadable file fails with a clear message when it is read for real
        return False


def _shipped(spec) -> pd.DataFrame:
    file, column, time = SHIPPED[spec.dataset]
    return read_csv(_packaged(file), column, time=time)


def _sine(spec) -> pd.DataFrame:
    import pandas as pd

    series = noisy_sines(spec.n_points, np.random.default_rng(spec.seed), noise=spec.noise)
    return pd.DataFrame({"sine": series}, index=pd.RangeIndex(spec.n_points, name="t"))


def _adding(spec) -> Sequences:
    x, y = adding_problem(spec.n_points, spec.length, np.random.default_rng(spec.seed))
    return Sequences(x, y)


def _csv(spec) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """The user's file: one series, or with data.series a long table of many ({id: frame})."""
    if not spec.path:
        raise DataError('dataset "csv" needs data.path, the file to read')
    if not spec.target:
        raise DataError('dataset "csv" needs data.target, the column(s) to forecast')
    if spec.series:
        from .panel import keep_long_enough, read_panel  # pandas: only when a panel is read

        frames = read_panel(spec.path, spec.series, spec.target, spec.features, spec.time, spec.missing)
        return keep_long_enough(frames, spec.min_length, spec.path)
    return read_csv(spec.path, spec.target, spec.features, spec.time, spec.missing)


# the [data] keys every series reads; a CSV's own
SERIES_KEYS = frozenset({"dataset", "start", "end", "test_fraction", "test_size", "window", "horizon", "stride", "log",
                         "difference", "seasonal_difference", "normalise", "season"})
FILE_KEYS = frozenset({"path", "target", "features", "time", "missing", "series", "min_length"})


@dataclass(frozen=True)
class Dataset:
    """One entry of DATASETS: how it loads, and the facts the rest of tuner asks of it (so no module tests a
    dataset by its name)."""

    load: Callable[..., pd.DataFrame | dict[str, pd.DataFrame] | Sequences]
    keys: frozenset[str]  # the [data] keys it reads (an exported config carries only these)
    sequences: bool = False  # independent (x, y) samples, not a series to window
    generated: bool = False  # made from its settings, so its size is bounded before it is made
    reads_file: bool = False  # the user's CSV: its columns are named in [data], its content is part of a study
    channels: int = 1  # input values per step (the size check before a generated set is made)

    def __call__(self, spec: Any) -> pd.DataFrame | dict[str, pd.DataFrame] | Sequences:
        return self.load(spec)


DATASETS: dict[str, Dataset] = {
    "sunspots": Dataset(_shipped, SERIES_KEYS),
    "airline": Dataset(_shipped, SERIES_KEYS),
    "sine": Dataset(_sine, SERIES_KEYS | {"n_points", "noise"}, generated=True),
    "adding": Dataset(_adding, frozenset({"dataset", "n_points", "length", "test_fraction", "test_size"}),
                      sequences=True, generated=True, channels=2),
    "csv": Dataset(_csv, SERIES_KEYS | FILE_KEYS, reads_file=True),
}
