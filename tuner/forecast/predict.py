"""tuner predict: a trained folder (one Forecaster, or an ensemble of them) forecasts a CSV laid out like its
training data, window by window or --steps past its end."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..data.times import row_times
from ..errors import ConfigError
from . import PATHS
from .ahead import forecast_ahead
from .artifact import Forecaster, load_intervals, member_dirs
from .frames import actual_of, forecast_frame, with_bounds
from .panel import known_series, panel_frame, panel_windows_forecast
from .parts import keyed_rows, mean


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
        forecast, idx, (w, first) = mean(forecasters, lambda f: panel_windows_forecast(f, frame, targets))
        out = panel_frame(forecast, (w, first[idx]), targets)
    else:
        forecast, idx, rows = mean(forecasters, lambda f: keyed_rows(*f.forecast_windows(frame, targets)))
        out = forecast_frame(row_times(frame.index, rows[idx]), forecast, targets)
    if intervals is not None:  # the data's own values, where known, adapt the intervals (intervals.py)
        intervals = with_bounds(out, intervals, None if isinstance(frame, dict) else actual_of(out, frame, targets))
    if not steps:
        return out
    return forecast_ahead(forecasters, frame, targets, steps, intervals if paths else None, paths, progress=progress)


__all__ = ["predict"]
