"""tuner predict: a trained folder (one Forecaster, or an ensemble of them) forecasts a CSV laid out like its
training data, window by window or --steps past its end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..data.times import row_times
from ..errors import ConfigError
from . import PATHS
from .ahead import forecast_ahead
from .artifact import Forecaster, load_intervals, member_dirs
from .frames import actual_of, forecast_frame, with_bounds
from .panel import known_series, panel_forecast


def predict(folder: str | Path, data: str | Path, steps: int = 0, paths: int = PATHS,
            progress: bool = False) -> pd.DataFrame:
    """Forecast with what `tuner train -o FOLDER` wrote: every window of the data (with `steps`, that many
    values past its end, fed back; their intervals from `paths` simulated futures, none with 0), with the
    folder's prediction intervals when it has them. For an ensemble, the mean of its members' forecasts where
    they all forecast (members with longer windows start later), with the ensemble's own intervals."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a directory; give the directory `tuner train -o DIR` wrote")
    intervals = load_intervals(folder)
    dirs = member_dirs(folder)
    forecasters = [Forecaster.load(folder / d) for d in dirs] if dirs else [Forecaster.load(folder)]
    frame, targets = forecasters[0].read(data)
    parts = list(frame.values()) if isinstance(frame, dict) else [frame]
    for f in forecasters[1:]:  # each member's windows and model checked, as the first's were
        f.check_fits(sum(len(part) for part in parts), parts[0].shape[1])
    if isinstance(frame, dict):  # a panel: every series it was trained on, each past its own end
        frame = known_series(forecasters[0], frame)
        members = [panel_forecast(f, frame, targets) for f in forecasters]
    else:
        members = [forecast_frame(row_times(frame.index, rows), forecast, targets)
                   for forecast, rows in (f.forecast_windows(frame, targets) for f in forecasters)]
    keys = [c for c in ("series", "time", "step", "target") if c in members[0]]
    out = members[0][keys]
    for m in members[1:]:
        out = out.merge(m[keys], on=keys)  # where every member forecasts, in the first member's order
    out = out.copy()
    out["predicted"] = np.mean([out.merge(m, on=keys, how="left")["predicted"].to_numpy() for m in members], axis=0)
    if intervals is not None:  # the data's own values, where known, adapt the intervals (intervals.py)
        intervals = with_bounds(out, intervals, None if isinstance(frame, dict) else actual_of(out, frame, targets))
    if not steps:
        return out
    return forecast_ahead(forecasters, frame, targets, steps, intervals if paths else None, paths, progress=progress)


__all__ = ["predict"]
