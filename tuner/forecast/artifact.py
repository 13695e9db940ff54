"""The saved artifact of `tuner train`: a Forecaster is the trained members, the scaling they were trained
with and the spec that says how a CSV becomes windows; it saves, loads and forecasts. Several configs' models
(tuner train over a study's top K) are a folder of Forecasters named by an ensemble.json.

On disk, a Forecaster folder holds model.npz (+ model-1.npz ... for [train].ensemble > 1) and model.json
with the first member's constructor arguments and, under "extra", the config, the scaling and the member
files. Every file is checked before anything large is read (nn/model.py).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config.spec import DataSpec, StudySpec
from ..config.studyfile import study_from_dict, to_doc
from ..data.datasets import forecast_columns, read_csv
from ..data.prepare import Scaling
from ..data.times import row_times
from ..data.windows import make_windows, windows_bytes
from ..errors import ConfigError, DataError, TunerError
from ..limits import check_fits
from ..nn import SequenceModel
from ..nn.model import read_json
from ..nn.sizes import activation_bytes
from . import PATHS
from .blend import Ridge
from .intervals import Intervals

ENSEMBLE = "ensemble.json"
INTERVALS = "intervals.json"


def study_data(spec: StudySpec) -> DataSpec:
    """The study's own [data] (its window and transforms, recorded by tuner export), whatever this config's trial
    searched: where the baselines, and a blend's partner, come from."""
    base = spec.provenance.get("baseline_data")
    if not isinstance(base, dict) or not base:
        return spec.data
    try:
        return dataclasses.replace(spec.data, **base)
    except (TypeError, TunerError) as exc:
        raise ConfigError(f"{spec.path}: [provenance].baseline_data is not valid ({exc}); export again") from None


@dataclass(frozen=True)
class Partner:
    """The study's own ridge, on the study's windows and transforms, mixed into a Forecaster's forecasts with
    weight 1 - `weight` where the config's windows or transforms differ from the study's (so the blend cannot
    be folded into the model: blend.py). The same ridge the comparison table prints."""

    weight: float  # the RNN's share
    ridge: Ridge  # in its windows' scaled units
    scaling: Scaling
    spec: StudySpec  # the config with the study's [data]

    def predict_scaled_windows(self, x: np.ndarray) -> np.ndarray:
        """Unscaled windows (N, T, D) -> ridge's forecast in the windows' (transformed) units."""
        return self.scaling.y_original(self.ridge.predict(self.scaling.x(x)))

    def to_dict(self) -> dict:
        return {"weight": self.weight, "coef": self.ridge.coef.tolist(), "intercept": self.ridge.intercept.tolist(),
                "scaling": self.scaling.to_dict()}

    @classmethod
    def from_dict(cls, d: object, spec: StudySpec, where: object) -> Partner:
        damaged = ConfigError(f"{where}: the blend's ridge is damaged; retrain with tuner train")
        if not isinstance(d, dict) or not isinstance(d.get("weight"), float) or not 0 <= d["weight"] <= 1 \
                or not isinstance(d.get("scaling"), dict):
            raise damaged
        scaling = Scaling.from_dict(d["scaling"], where)
        data = study_data(spec)
        try:
            coef, intercept = np.asarray(d.get("coef"), dtype=float), np.asarray(d.get("intercept"), dtype=float)
        except (TypeError, ValueError):
            raise damaged from None
        outputs = len(scaling.y_mean)
        if coef.shape != (outputs, data.window * len(scaling.x_mean)) or intercept.shape != (outputs,) \
                or not np.isfinite(coef).all() or not np.isfinite(intercept).all():
            raise damaged
        return cls(d["weight"], Ridge(coef, intercept), scaling, dataclasses.replace(spec, data=data))


@dataclass
class Forecaster:
    members: list[SequenceModel]  # same config, own seeds: their mean is the forecast
    scaling: Scaling
    spec: StudySpec
    partner: Partner | None = None  # the study's ridge, when the blend could not be folded into the members

    def predict_scaled_windows(self, x: np.ndarray) -> np.ndarray:
        """Unscaled windows (N, T, D) -> the members' mean forecast in the windows' (transformed) units."""
        return self.scaling.y_original(np.mean([m.predict(self.scaling.x(x)) for m in self.members], axis=0))

    @property
    def lookback(self) -> int:
        """Rows a forecast looks back at: the longest window (the partner's too) with its differencing lags."""
        return max(d.window + d.difference + d.seasonal_difference
                   for d in [self.spec.data] + ([self.partner.spec.data] if self.partner else []))

    def save(self, folder: str | Path) -> Path:
        """Write the members and model.json into `folder` (created); returns model.npz's path."""
        folder = Path(folder)
        names = ["model"] + [f"model-{m}" for m in range(1, len(self.members))]
        extra = {"config": to_doc(self.spec), "scaling": self.scaling.to_dict(),
                 "members": [f"{name}.npz" for name in names]}
        if self.partner is not None:
            extra["partner"] = self.partner.to_dict()
        path = self.members[0].save(folder / "model", extra=extra)
        for name, member in zip(names[1:], self.members[1:], strict=True):
            member.save(folder / name)
        (folder / ENSEMBLE).unlink(missing_ok=True)  # this folder holds one config's models now
        return path

    @classmethod
    def load(cls, folder: str | Path) -> Forecaster:
        folder = Path(folder)
        meta_path = folder / "model.json"
        if not meta_path.is_file():
            raise ConfigError(f"{folder} holds no model.json; give the directory `tuner train -o DIR` wrote")
        extra = read_json(meta_path).get("extra")
        names = extra.get("members", ["model.npz"]) if isinstance(extra, dict) else None
        if not isinstance(extra, dict) or not isinstance(names, list) or not all(
                isinstance(n, str) and n == Path(n).name and n.endswith(".npz") for n in names) \
                or not isinstance(extra.get("config"), dict) or not isinstance(extra.get("scaling"), dict):
            raise ConfigError(f"{meta_path} is not a saved forecaster (no config, scaling or member files); "
                              f"retrain with tuner train")
        members = [SequenceModel.load(folder / name) for name in names]
        spec = study_from_dict(extra["config"])
        partner = Partner.from_dict(extra["partner"], spec, meta_path) if "partner" in extra else None
        return cls(members, Scaling.from_dict(extra["scaling"], meta_path), spec, partner)

    def read(self, data: str | Path) -> tuple[pd.DataFrame, list[str]]:
        """A CSV laid out like the training data, as a frame; and the target columns."""
        d = self.spec.data
        targets, features, time = forecast_columns(d, data)
        frame = read_csv(data, targets, features, time, d.missing,
                         missing_fix="fill them in the file (this model was trained with data.missing = \"error\"; "
                                     "retrain with another choice to have tuner fill or drop them)")
        self.check_fits(frame)
        return frame, targets

    def check_fits(self, frame: pd.DataFrame) -> None:
        """Refuse, before anything is allocated, a frame whose windows would not fit in memory."""
        d, m0 = self.spec.data, self.members[0]
        partner = self.partner.spec.data.window if self.partner else 0
        check_fits(f"forecasting {len(frame)} windows of {d.window} steps",
                   windows_bytes(len(frame), d.window + partner, frame.shape[1], m0.output_size, 1)
                   + activation_bytes(m0.cell, m0.input_size, m0.hidden_size, m0.num_layers, d.window, len(frame),
                                      m0.dtype, backward=False),
                   "forecast a shorter file")

    def forecast_windows(self, frame: pd.DataFrame, targets: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The forecast of every window, original units (n, horizon * targets), and the rows each forecasts;
        with a partner, w x the members' + (1 - w) x its, on the rows both forecast."""
        forecast, rows = _forecast_windows(self, frame, targets)
        if self.partner is None:
            return forecast, rows
        other, other_rows = _forecast_windows(self.partner, frame, targets)
        _, i, j = np.intersect1d(rows[:, 0], other_rows[:, 0], return_indices=True)
        w = self.partner.weight
        return w * forecast[i] + (1 - w) * other[j], rows[i]

    def forecast(self, data: str | Path, intervals: Intervals | None = None) -> pd.DataFrame:
        """One forecast per window of a CSV laid out like the training data, including the one after its last
        row, keyed by the time it forecasts (forecast_frame); with intervals, their bounds."""
        frame, targets = self.read(data)
        forecast, rows = self.forecast_windows(frame, targets)
        out = forecast_frame(row_times(frame.index, rows), forecast, targets)
        if intervals is not None:
            with_bounds(out, intervals, actual_of(out, frame, targets))
        return out


def _forecast_windows(model: Forecaster | Partner, frame: pd.DataFrame, targets: list[str]) -> tuple[np.ndarray,
                                                                                                   np.ndarray]:
    """Every window of the frame (the one after its last row too: its targets are unknown) forecast by one
    model, in original units, and the rows each forecasts."""
    d = model.spec.data
    future = pd.DataFrame(np.nan, index=range(d.horizon), columns=frame.columns)
    full = pd.concat([frame.reset_index(drop=True), future], ignore_index=True)
    w = make_windows(full, tuple(targets), d.window, d.horizon, log=d.log, difference=d.difference,
                     seasonal_difference=d.seasonal_difference, normalise=d.normalise)
    if len(w.x) == 0:
        raise DataError(f"the data has {len(frame)} rows; forecasting needs at least "
                        f"{d.window + d.difference + d.seasonal_difference} (the window plus any differencing lags)")
    every = np.arange(len(w.x))
    return w.to_original(model.predict_scaled_windows(w.x), every), w.target_rows(every, d.horizon)


def forecast_ahead(forecasters: list[Forecaster], frame: pd.DataFrame, targets: list[str], steps: int,
                   intervals: Intervals | None = None, paths: int = PATHS, seed: int = 0,
                   progress: bool = False) -> pd.DataFrame:
    """`steps` values past the end of the data (a frame indexed by time, as Forecaster.read gives it) by
    feeding forecasts back (recursive: each block of `horizon` forecasts, the mean of the forecasters', becomes
    data for the next). With intervals, their bounds are quantiles of `paths` simulated futures that add one
    resampled out-of-fold window's errors to each block before feeding it back, so they widen as errors
    compound."""
    if len(frame.columns) != len(targets):
        raise ConfigError(f"--steps needs the model to forecast every input it reads, but it also reads "
                          f"features {[c for c in frame.columns if c not in targets]} whose future values are "
                          f"unknown; forecast without --steps")
    residuals = intervals.residuals if intervals is not None else None
    # path 0 is the point forecast, computed in the same arithmetic as the simulated ones (the same batch), so
    # no rounding puts it outside bounds that ought to hold it
    simulated = _ahead(forecasters, frame, targets, steps, residuals, np.random.default_rng(seed),
                       paths if intervals is not None else 0, progress)  # (1 + paths, steps, targets)
    point, lower, upper = simulated[0], None, None
    if intervals is not None:
        alpha = float(np.mean(intervals.alpha)) / 2  # the level the errors seen so far left (intervals.py)
        futures = simulated[1:]
        lost = ~np.isfinite(futures).all(axis=(1, 2))
        if lost.any():  # said once, in words, rather than as NumPy's overflow warnings
            print(f"note: {int(lost.sum())} of {paths} simulated futures grew past what floating point holds "
                  f"(errors fed back made the forecasts explode); the bounds are quantiles of the other "
                  f"{int((~lost).sum())}", file=sys.stderr)
            futures = futures[~lost] if (~lost).any() else futures
        lower, upper = (np.quantile(futures, q, axis=0).reshape(1, -1) for q in (alpha, 1 - alpha))
    times = row_times(frame.index, len(frame) + np.arange(steps)[None, :])
    return forecast_frame(times, point.reshape(1, -1), targets, lower=lower, upper=upper, steps=True)


def _ahead(forecasters: list[Forecaster], frame: pd.DataFrame, targets: list[str], steps: int,
           residuals: np.ndarray | None, rng: np.random.Generator, paths: int = 0,
           progress: bool = False) -> np.ndarray:
    """(1 + paths, steps, targets): the recursive forecast (path 0) and `paths` simulated futures, each block
    with one resampled out-of-fold window's errors added before it is fed back. Each block costs the same
    (the tails keep only what the windows look at), so the time is linear in the steps."""
    horizon, nt = forecasters[0].spec.data.horizon, len(targets)
    need = max(f.lookback for f in forecasters)  # rows the longest window and its differencing look at
    tails = np.repeat(frame[targets].to_numpy(dtype=float)[None, -need:], 1 + paths, axis=0)  # (1 + paths, need, nt)
    blocks = -(-steps // horizon)
    out = np.empty((1 + paths, blocks * horizon, nt))
    log = any(f.spec.data.log for f in forecasters)
    for b in _progress(range(blocks), progress, "--steps", "block"):
        block = np.mean([_next_block(f, tails, targets) for f in forecasters], axis=0).reshape(-1, horizon, nt)
        if residuals is not None and paths:  # one out-of-fold window's errors, all its steps and targets together
            block[1:] += residuals[rng.integers(0, len(residuals), size=paths)].reshape(paths, horizon, nt)
            if log:  # a log model's data must stay positive
                block[1:] = np.maximum(block[1:], np.finfo(float).tiny)
        out[:, b * horizon : (b + 1) * horizon] = block
        tails = np.concatenate([tails[:, horizon:], block], axis=1) if need > horizon else block[:, -need:]
    return out[:, :steps]


def _progress(items: range, show: bool, desc: str, unit: str) -> Any:
    """A tqdm bar on stderr when asked (a terminal), else the items themselves."""
    if not show:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit=unit, file=sys.stderr, leave=False)


def _next_block(forecaster: Forecaster, tails: np.ndarray, targets: list[str]) -> np.ndarray:
    """Each tail's forecast for the rows after it, (paths, horizon * targets), with the partner's mixed in."""
    block = _block(forecaster, tails, targets)
    if forecaster.partner is None:
        return block
    w = forecaster.partner.weight
    return w * block + (1 - w) * _block(forecaster.partner, tails, targets)


def _block(forecaster: Forecaster | Partner, tails: np.ndarray, targets: list[str]) -> np.ndarray:
    """Each tail's forecast for the rows after it, (paths, horizon * targets): the tails laid end to end, each
    followed by `horizon` unknown rows, windowed once and forecast in one pass (a window never reaches back
    past its own tail: the tail holds its window and its differencing lags)."""
    d = forecaster.spec.data
    paths, need, nt = tails.shape
    gap = np.full((paths, d.horizon, nt), np.nan)
    series = np.concatenate([tails, gap], axis=1).reshape(-1, nt)
    w = make_windows(pd.DataFrame(series, columns=targets), tuple(targets), d.window, d.horizon, log=d.log,
                     difference=d.difference, seasonal_difference=d.seasonal_difference, normalise=d.normalise)
    last = np.arange(paths) * (need + d.horizon) + need - 1  # each tail's last row
    idx = np.searchsorted(w.t_last, last)
    return w.to_original(forecaster.predict_scaled_windows(w.x[idx]), idx)


def forecast_frame(times: np.ndarray, forecast: np.ndarray, targets: list[str], *, actual: np.ndarray | None = None,
                   width: np.ndarray | None = None, lower: np.ndarray | None = None, upper: np.ndarray | None = None,
                   steps: bool = False) -> pd.DataFrame:
    """The one layout of every forecast tuner writes (predictions.csv, tuner predict): a row per forecast value,
    `time` the time it forecasts. One target one step ahead: time, [actual], predicted, [lower, upper]. Several
    steps ahead or targets: time, step, target, ... (a window's forecasts are consecutive rows). times is
    (n, horizon); forecast, actual, lower and upper (n, horizon * targets), horizon-major; `width` gives
    lower and upper as forecast -+ width per column."""
    if width is not None:
        lower, upper = forecast - width, forecast + width
    n, cols = forecast.shape
    nt = len(targets)
    columns = {"actual": actual, "predicted": forecast, "lower": lower, "upper": upper}
    if cols == 1 and not steps:
        return pd.DataFrame({"time": times[:, 0], **{k: v[:, 0] for k, v in columns.items() if v is not None}})
    horizon = cols // nt
    frame = pd.DataFrame({"time": np.repeat(times, nt, axis=1).ravel(),
                          "step": np.tile(np.repeat(np.arange(1, horizon + 1), nt), n),
                          "target": np.tile(targets, n * horizon)})
    for k, v in columns.items():
        if v is not None:
            frame[k] = v.ravel()
    return frame


def save_ensemble(folder: str | Path, members: list[str]) -> None:
    """Name the member folders (each a Forecaster) whose mean forecast this folder's ensemble is."""
    (Path(folder) / ENSEMBLE).write_text(json.dumps({"format": "tuner.Ensemble/1", "members": members}, indent=2))


def _member_dirs(folder: Path) -> list[str] | None:
    """The member folders of an ensemble folder (None for a single Forecaster); folders written before
    ensemble.json name them in metrics.json."""
    if (folder / ENSEMBLE).is_file():
        path, listed = folder / ENSEMBLE, read_json(folder / ENSEMBLE).get("members")
    elif not (folder / "model.json").is_file() and (folder / "metrics.json").is_file():
        path = folder / "metrics.json"
        listed = [m.get("dir") if isinstance(m, dict) else None for m in read_json(path).get("members") or []]
    else:
        return None
    if not listed or not isinstance(listed, list) or not all(
            isinstance(d, str) and d and d == Path(d).name and d not in (".", "..") for d in listed):
        raise ConfigError(f"{path} lists members {listed!r}; each must be a folder inside {folder}; retrain with "
                          f"tuner train")
    real = folder.resolve()
    for d in listed:  # where a member really is counts, not its name: a symlink may point anywhere
        if (folder / d).resolve().parent != real:
            raise ConfigError(f"member {d} of {folder} is a link to {(folder / d).resolve()}, outside the ensemble "
                              f"folder; each member must be a folder inside it: retrain with tuner train")
    return listed


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
    dirs = _member_dirs(folder)
    forecasters = [Forecaster.load(folder / d) for d in dirs] if dirs else [Forecaster.load(folder)]
    frame, targets = forecasters[0].read(data)
    for f in forecasters[1:]:  # each member's windows and model checked, as the first's were
        f.check_fits(frame)
    members = [forecast_frame(row_times(frame.index, rows), forecast, targets)
               for forecast, rows in (f.forecast_windows(frame, targets) for f in forecasters)]
    keys = [c for c in ("time", "step", "target") if c in members[0]]
    out = members[0][keys]
    for m in members[1:]:
        out = out.merge(m[keys], on=keys)  # where every member forecasts, in the first member's order
    out = out.copy()
    out["predicted"] = np.mean([out.merge(m, on=keys, how="left")["predicted"].to_numpy() for m in members], axis=0)
    if intervals is not None:  # the data's own values, where known, adapt the intervals (intervals.py)
        intervals = with_bounds(out, intervals, actual_of(out, frame, targets))
    if not steps:
        return out
    return forecast_ahead(forecasters, frame, targets, steps, intervals if paths else None, paths, progress=progress)


def actual_of(out: pd.DataFrame, frame: pd.DataFrame, targets: list[str]) -> np.ndarray:
    """The value each row of a forecast_frame forecasts, from the data it was made from (NaN past its end)."""
    rows = {str(t): i for i, t in enumerate(row_times(frame.index, np.arange(len(frame))))}
    at = out["time"].astype(str).map(rows).to_numpy(dtype=float)
    column = out["target"].map(targets.index).to_numpy() if "target" in out else np.zeros(len(out), dtype=int)
    known = np.isfinite(at)
    actual = np.full(len(out), np.nan)
    actual[known] = frame[targets].to_numpy(dtype=float)[at[known].astype(int), column[known]]
    return actual


def with_bounds(frame: pd.DataFrame, intervals: Intervals, actual: np.ndarray | None = None) -> Intervals:
    """Set lower and upper of forecast_frame's rows (consecutive windows, a window's columns in order) from
    `predicted`: the nominal half-width before intervals.adapt_from, and from that time on a level that adapts
    to each error once its value is known (`actual` per row, NaN where unknown; the frame's own by default).
    Returns the intervals at the level the last known error left, for forecasts past the end."""
    columns = intervals.residuals.shape[1]
    forecast = frame["predicted"].to_numpy(dtype=float).reshape(-1, columns)
    known = (frame["actual"].to_numpy(dtype=float) if actual is None else actual).reshape(-1, columns)
    width = np.tile(intervals.width, (len(forecast), 1))
    start = _from(frame["time"].to_numpy().reshape(-1, columns)[:, 0], intervals.adapt_from)
    if len(start):  # from there on the forecasts are out of sample: walk from the nominal level
        steps = frame["step"].to_numpy()[:columns] if "step" in frame else np.ones(columns, dtype=int)
        width[start[0]:], intervals = dataclasses.replace(intervals, level=None).walk(
            forecast[start[0]:], known[start[0]:], steps)
    frame["lower"], frame["upper"] = (forecast - width).ravel(), (forecast + width).ravel()
    return intervals


def _from(times: np.ndarray, adapt_from: str | None) -> np.ndarray:
    """The rows (in time order) forecasting adapt_from or later: numbers compared as numbers, dates as the
    data writes them (ISO order)."""
    if adapt_from is None or not len(times):
        return np.empty(0, dtype=int)
    if all(isinstance(t, (int, float, np.number)) and not isinstance(t, bool) for t in times):
        try:
            return np.flatnonzero(times.astype(float) >= float(adapt_from))
        except ValueError:  # saved from times that were not numbers: another layout of the data
            return np.empty(0, dtype=int)
    return np.flatnonzero(times.astype(str) >= adapt_from)


def load_intervals(folder: Path) -> Intervals | None:
    path = folder / INTERVALS
    return Intervals.from_dict(read_json(path), path) if path.is_file() else None


__all__ = ["Forecaster", "Partner", "forecast_ahead", "forecast_frame", "load_intervals", "predict", "save_ensemble",
           "study_data", "with_bounds"]
