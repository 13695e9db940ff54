"""Times of forecasts: what comes after the last row (the series' own step), and times written as the data
wrote them (a monthly series stays "1999-01", a yearly one "1999")."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

# coarsest first: the first format that loses nothing is used
FORMATS = ("%Y", "%Y-%m", "%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")


def series_step(index: pd.Index) -> Any:
    """The series' regular step, or None for times without one: the frequency pandas infers; else, for a series
    with holes, the most common step between rows, in whole months for month-aligned dates (a month is not a
    fixed number of days), business days for weekday-only daily dates, a fixed duration or number otherwise."""
    if len(index) < 2 or not isinstance(index, (pd.DatetimeIndex, pd.RangeIndex)) and index.dtype.kind not in "iuf":
        return None
    if isinstance(index, pd.DatetimeIndex):
        with warnings.catch_warnings():  # pandas 3 warns that infer_freq will return an offset: both work here
            warnings.simplefilter("ignore")
            freq = index.freq or (pd.infer_freq(index) if len(index) >= 3 else None)
        if freq is not None:
            return pd.tseries.frequencies.to_offset(freq)
        naive = index.tz_localize(None)
        same_time = (naive == naive.normalize() + (naive[0] - naive[0].normalize())).all()
        if same_time and ((naive.day == naive[0].day).all() and naive[0].day <= 28 or naive.is_month_end.all()):
            months = _mode(np.diff(naive.year * 12 + naive.month))
            return pd.offsets.MonthEnd(months) if naive.is_month_end.all() and naive[0].day > 28 else \
                pd.DateOffset(months=months)
        step = pd.Timedelta(int(_mode(np.diff(index.asi8))), index.unit)  # asi8 counts in the index's own unit
        if step == pd.Timedelta(days=1) and (naive.day_of_week < 5).all() and same_time:
            return pd.offsets.BDay()
        return step
    step = _mode(np.diff(np.asarray(index)))
    return step if step > 0 else None


def _mode(values: np.ndarray) -> Any:
    kinds, counts = np.unique(values, return_counts=True)
    return kinds[int(np.argmax(counts))].item()


def regular_index(index: pd.Index, step: Any, limit: int) -> pd.Index | None:
    """Every time from the first to the last at `step` (None when the times are not on that grid, or when the
    grid would hold more than `limit` rows: a typo in a year must not allocate a century of months)."""
    if isinstance(index, pd.DatetimeIndex):
        approx = (index[-1] - index[0]) / (index[0] + step - index[0]) if not isinstance(step, pd.offsets.BDay) \
            else (index[-1] - index[0]).days
        if approx + 1 > limit:
            raise ValueError(f"the times run from {index[0]} to {index[-1]}: {approx:.0f} steps for {len(index)} rows")
        grid = pd.date_range(index[0], index[-1], freq=step)
    else:
        count = (index[-1] - index[0]) / step
        if count + 1 > limit:
            raise ValueError(f"the times run from {index[0]} to {index[-1]}: {count:.0f} steps for {len(index)} rows")
        grid = pd.Index(index[0] + step * np.arange(int(round(count)) + 1))
    return grid if index.isin(grid).all() else None


def future_times(index: pd.Index, n: int) -> pd.Index:
    """The n times after the index's last, at the series' step (series_step: monthly data continues on month
    starts, even across a hole); positions for an index without times."""
    if n <= 0:
        return index[:0]
    step = series_step(index)
    if isinstance(index, pd.DatetimeIndex):
        if step is None:
            step = pd.Timedelta(days=1)
        return pd.date_range(index[-1], periods=n + 1, freq=step)[1:]
    values = np.asarray(index)
    if step is None:
        step = values[-1] - values[-2] if len(values) > 1 else 1
    return pd.Index(values[-1] + step * np.arange(1, n + 1))


def time_format(times: pd.DatetimeIndex) -> str:
    """The coarsest of FORMATS that writes every time without losing anything."""
    for fmt in FORMATS:
        if (pd.to_datetime(times.strftime(fmt), format=fmt) == times.tz_localize(None)).all():
            return fmt
    return "%Y-%m-%dT%H:%M:%S.%f"


def row_times(index: pd.Index, rows: np.ndarray) -> np.ndarray:
    """The time of each row number (rows past the end continue at the series' step), written as the data
    writes its times: dates in the coarsest format that loses nothing, numbers as numbers."""
    rows = np.asarray(rows)
    extra = max(int(rows.max(initial=-1)) + 1 - len(index), 0)
    full = index.append(future_times(index, extra)) if extra else index
    picked = full[rows.ravel()]
    if isinstance(picked, pd.DatetimeIndex):
        fmt = time_format(full)
        return np.asarray(picked.strftime(fmt), dtype=object).reshape(rows.shape)
    return np.asarray(picked).reshape(rows.shape)


__all__ = ["future_times", "regular_index", "row_times", "series_step", "time_format"]
