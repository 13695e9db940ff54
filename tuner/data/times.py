"""Times of forecasts: what comes after the last row (the series' own step), and times written as the data
wrote them (a monthly series stays "1999-01", a yearly one "1999")."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

# coarsest first: the first format that loses nothing is used
FORMATS = ("%Y", "%Y-%m", "%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")


def future_times(index: pd.Index, n: int) -> pd.Index:
    """The n times after the index's last, at the series' step: the inferred frequency of dates (monthly data
    continues on month starts), else the last step; positions for an index without times."""
    if n <= 0:
        return index[:0]
    if isinstance(index, pd.DatetimeIndex):
        with warnings.catch_warnings():  # pandas 3 warns that infer_freq will return an offset: both work here
            warnings.simplefilter("ignore")
            freq = index.freq or (pd.infer_freq(index) if len(index) >= 3 else None)
        if freq is not None:
            return pd.date_range(index[-1], periods=n + 1, freq=freq)[1:]
        step = index[-1] - index[-2] if len(index) > 1 else pd.Timedelta(days=1)
        return pd.DatetimeIndex([index[-1] + step * (k + 1) for k in range(n)])
    values = np.asarray(index)
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


__all__ = ["future_times", "row_times", "time_format"]
