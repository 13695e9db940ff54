"""A user's CSV as a series: every column it names checked, numbers refused where they cannot be squared, time
parsed and sorted, gaps in the time and empty cells refused or handled as data.missing says. Files are read
only up to what this process can parse."""

from __future__ import annotations

import io
import math
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError
from ..limits import TRIAL_SHARE, available_bytes, read_bounded

if TYPE_CHECKING:
    import pandas as pd

LARGEST = math.sqrt(sys.float_info.max)  # about 1.3e154: a larger value's square overflows float64
PARSED_FACTOR = 4  # a parsed CSV takes a few times its bytes


def _read_bounded(path: Path) -> bytes:
    """The file's bytes, never more than this process can parse (a parsed CSV takes a few times its bytes)."""
    budget = int(available_bytes() * TRIAL_SHARE / PARSED_FACTOR)
    try:
        return read_bounded(path, budget, "data file", DataError)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None


def read_csv(
    path: str | Path,
    target: str | list[str],
    features: list[str] | tuple[str, ...] = (),
    time: str | None = None,
    missing: str = "error",
    missing_fix: str = 'set data.missing = "interpolate" or "drop", or fill them',
) -> pd.DataFrame:
    """Read a user's series: check every column it names, parse and sort time, handle missing values
    (`missing_fix`: what to do about them, which differs for a trained model's data)."""
    df = load_table(path, target, features, time)
    targets = [target] if isinstance(target, str) else list(target)
    wanted = targets + list(features) + ([time] if time else [])
    if not time:
        _refuse_stacked_series(df, Path(path), wanted)
    return series_frame(df, Path(path), targets, list(features), time, missing, missing_fix)


def load_table(path: str | Path, target: str | list[str] | tuple[str, ...], features: list[str] | tuple[str, ...] = (),
               time: str | None = None, extra: tuple[str, ...] = (), text: tuple[str, ...] = ()) -> pd.DataFrame:
    """The file as a table, every column it names there once (`extra`: more columns to require; `text`: columns
    read as text, such as series ids, so "007" stays "007")."""
    import pandas as pd  # here, not at the top: the study-file check imports this module for DATASETS

    path = Path(path)
    if not path.exists():
        raise DataError(f"data file {path} does not exist; check data.path (relative paths start at the "
                        f"directory tuner runs in)")
    if path.is_dir():
        raise DataError(f"data.path {path} is a directory; point it at a CSV file")
    raw = _read_bounded(path)
    try:
        df = pd.read_csv(io.BytesIO(raw), comment="#", skipinitialspace=True, dtype={c: str for c in text},
                         keep_default_na=True)
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"cannot read {path} as CSV: {reason}") from None
    targets = [target] if isinstance(target, str) else list(target)
    wanted = list(extra) + targets + list(features) + ([time] if time else [])
    for column in wanted:
        if column not in df.columns:
            raise DataError(f"column {column!r} is not in {path}; its columns are: {', '.join(map(str, df.columns))}")
    if len(set(wanted)) != len(wanted):
        keys = ["data.series"] * bool(extra) + ["data.target", "data.features", "data.time"]
        raise DataError(f"a column is named twice among {', '.join(keys[:-1])} and {keys[-1]}: {wanted}")
    return df


def series_frame(df: pd.DataFrame, path: Path, targets: list[str], features: list[str], time: str | None,
                 missing: str, missing_fix: str, where: str = "") -> pd.DataFrame:
    """One series' rows of a table -> its frame: numbers checked, time parsed, sorted and its gaps handled,
    missing values handled (`where`: which series, in messages)."""
    out = _numbers(df, path, targets + features)
    if time:
        out.index = _time_index(df, path, time, where)
        out = _gaps(out.sort_index(), path, time, missing, missing_fix, where)
    out = _fill_missing(out, path, missing, missing_fix, where)
    if out.empty:
        raise DataError(f"{path}{where} has no data rows")
    return out


def _numbers(df: pd.DataFrame, path: Path, columns: list[str]) -> pd.DataFrame:
    """The columns as floats: text, inf and values whose squares overflow are refused with column and row."""
    import pandas as pd

    out = pd.DataFrame(index=df.index)
    for column in columns:
        values = pd.to_numeric(df[column], errors="coerce")
        bad = values.isna() & df[column].notna()
        if bad.any():  # pandas 2 leaves numbers beyond float64 (1e400) as text: they are inf, refused below
            values[bad] = df[column][bad].map(_as_float)
            bad = values.isna() & df[column].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"column {column!r} of {path} has text {str(df[column].iloc[row])!r} in data row "
                            f"{row + 1}; make it a number or leave the cell empty")
        values = values.astype(float)
        infinite = np.isinf(values.to_numpy())
        if infinite.any():  # "inf", or a number beyond float64 such as 1e400
            row = int(np.flatnonzero(infinite)[0])
            raise DataError(f"column {column!r} of {path} has {str(df[column].iloc[row])!r} in data row {row + 1}, "
                            f"which is not a finite number; fix the value or leave the cell empty")
        huge = np.abs(values.to_numpy()) > LARGEST
        if huge.any():
            row = int(np.flatnonzero(huge)[0])
            raise DataError(f"column {column!r} of {path} has {str(df[column].iloc[row])!r} in data row {row + 1}: "
                            f"its square overflows floating point (every variance and MSE would be inf); rescale "
                            f"the column (say, to thousands or millions)")
        out[column] = values
    return out


def _as_float(text: object) -> float:
    try:
        return float(str(text))
    except ValueError:
        return float("nan")


def _fill_missing(out: pd.DataFrame, path: Path, missing: str, missing_fix: str, where: str = "",
                  say: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Empty cells: refused (missing = "error"), interpolated, or their rows dropped; said once either way."""
    n_missing = int(out.isna().sum().sum())
    if n_missing:
        column = out.columns[out.isna().any()].tolist()[0]  # the first gap, named in every message below
        row = int(np.flatnonzero(out[column].isna().to_numpy())[0])
        plural = "s" if n_missing > 1 else ""
        first = f"first in column {column!r}, data row {row + 1}"
        if missing == "error":
            raise DataError(f"{path}{where} has {n_missing} missing value{plural} ({first}); {missing_fix}")
        say = say or _note
        if missing == "interpolate":
            out = out.interpolate(limit_direction="both")
            say(f"{path}{where}: filled {n_missing} missing value{plural} by linear interpolation ({first}; "
                f"data.missing = \"interpolate\")")
        else:
            before = len(out)
            out = out.dropna()
            dropped = before - len(out)
            say(f"{path}{where}: dropped {dropped} row{'s' if dropped > 1 else ''} with missing values ({first}; "
                f"data.missing = \"drop\": windows span the gap as if the rows were consecutive)")
    return out


def _time_index(df: pd.DataFrame, path: Path, time: str, where: str = "", unique: bool = True) -> pd.Index:
    """The time column as an index: numbers, or dates in one time zone; every row has one, none repeats (unless
    not `unique`: a table of several series, each checked on its own)."""
    import pandas as pd

    stamps = df[time]
    if pd.api.types.is_numeric_dtype(stamps):
        blank = ~np.isfinite(stamps.to_numpy(dtype=float))
        if blank.any():  # sorting would move the row to the end, silently
            row = int(np.flatnonzero(blank)[0])
            raise DataError(f"time column {time!r} of {path}{where} has no usable value in data row "
                            f"{df.index[row] + 1} "
                            f"({str(df[time].iloc[row])!r}); every row needs its time")
    else:
        try:
            with warnings.catch_warnings():  # pandas 2 warns of mixed time zones, and keeps them as objects
                warnings.simplefilter("ignore", FutureWarning)
                parsed = pd.to_datetime(stamps, errors="coerce")
                if parsed.isna().any():  # pandas reads every row in the first row's format: try each on its own
                    parsed = pd.to_datetime(stamps, errors="coerce", format="mixed")
                stamps = parsed
        except (ValueError, TypeError) as exc:  # e.g. mixed time zones (pandas 3)
            raise DataError(f"time column {time!r} of {path} cannot be read as dates: "
                            f"{str(exc).split('.')[0]}; write every time in one time zone (or in UTC)") from None
        if not pd.api.types.is_datetime64_any_dtype(stamps):
            raise DataError(f"time column {time!r} of {path} cannot be read as dates: it mixes time zones; write "
                            f"every time in one time zone (or in UTC)")
        if stamps.isna().any():
            row = int(np.flatnonzero(stamps.isna().to_numpy())[0])
            raise DataError(f"time column {time!r} of {path}{where} has {str(df[time].iloc[row])!r} in data row "
                            f"{df.index[row] + 1}, which is not a date; fix it or drop data.time")
    if unique and stamps.duplicated().any():
        raise DataError(f"time column {time!r} of {path}{where} repeats {stamps[stamps.duplicated()].iloc[0]}; "
                        f"each time may appear once{' in a series' if where else ''}")
    return pd.Index(stamps, name=time)


def _refuse_stacked_series(df: pd.DataFrame, path: Path, wanted: list[str]) -> None:
    """Rows in file order are one series only if the table holds one: a column tuner does not read whose times
    repeat is a long table of several series (unique_id, ds, y), and reading it in file order would run the
    series together, windows crossing from one into the next."""
    import pandas as pd

    for column in df.columns.difference(wanted):
        values = df[column].dropna()
        if pd.api.types.is_numeric_dtype(values) or len(values) < 2:
            continue
        with warnings.catch_warnings():  # "could not infer format": most columns are not times at all
            warnings.simplefilter("ignore")
            stamps = pd.to_datetime(values, errors="coerce")
        if stamps.notna().mean() > 0.9 and stamps.dropna().duplicated().any():
            first = stamps.dropna()[stamps.dropna().duplicated()].index[0]
            raise DataError(f"column {column!r} of {path} holds times that repeat ({values[first]!r} again in data "
                            f"row {first + 1}): a table of several series; tuner studies one series, so select "
                            f"one series' rows (or set data.time = {column!r} for one series in time order)")


def _gaps(out: pd.DataFrame, path: Path, time: str, missing: str, missing_fix: str, where: str = "",
          say: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Times missing at the series' own step (times.series_step): refused with the first gap's times, or with
    data.missing = "interpolate" inserted (and filled with the other missing values), or with "drop" kept as
    they are, windows spanning them. A model never silently reads a year's hole as one month."""
    import pandas as pd

    from .times import regular_index, row_times, series_step  # pandas: imported where it is used

    step = series_step(out.index)
    if step is None:
        return out
    try:
        grid = regular_index(out.index, step, limit=10 * len(out) + 1000)
    except ValueError as exc:
        raise DataError(f"time column {time!r} of {path}{where}: {exc}; check the times") from None
    if grid is None or len(grid) == len(out):
        return out
    lost = grid.difference(out.index)
    before, after = out.index[out.index < lost[0]][-1], out.index[out.index > lost[0]][0]
    written = row_times(grid, np.array([grid.get_loc(before), grid.get_loc(after)]))
    what = (f"time column {time!r} of {path}{where} skips {len(lost)} time{'s' if len(lost) > 1 else ''} at its step "
            f"(the first gap: from {written[0]} to {written[1]})")
    if missing == "error":
        raise DataError(f"{what}; {missing_fix}")
    if missing == "interpolate":
        (say or _note)(f"{what}: inserted as missing values to interpolate (data.missing = \"interpolate\")")
        return out.reindex(pd.Index(grid, name=out.index.name))
    (say or _note)(f"{what}: kept as they are, windows span the gap (data.missing = \"drop\")")
    return out


_NOTED: set[str] = set()


def _note(text: str) -> None:
    """Say once per process, on stderr, what was done to the data (each searched window reads it again)."""
    if text not in _NOTED:
        _NOTED.add(text)
        print(f"note: {text}", file=sys.stderr)


__all__ = ["LARGEST", "read_csv"]
