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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config.spec import DataSpec, StudySpec
from ..config.studyfile import study_from_dict, to_doc
from ..data.datasets import forecast_columns, read_csv
from ..data.prepare import Scaling
from ..data.statistical import STATISTICAL, forecasts
from ..data.times import row_times
from ..data.windows import lookback, windows_bytes, windows_for
from ..errors import ConfigError, DataError, TunerError
from ..limits import check_fits
from ..nn import SequenceModel
from ..nn.io import read_json
from ..nn.sizes import activation_bytes
from .blend import Ridge
from .frames import actual_of, forecast_frame, with_bounds
from .intervals import Intervals
from .parts import keyed_rows, mix
from .stats import combine

ENSEMBLE = "ensemble.json"
ALL_ROWS = "every row, the test split included"  # what a --refit model was trained on (model.json's trained_on)
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

    def predict_scaled_windows(self, x: np.ndarray, series: np.ndarray | None = None) -> np.ndarray:
        """Unscaled windows (N, T, D) (of the given series of a panel) -> ridge's forecast in the windows'
        (transformed) units."""
        return self.scaling.y_original(self.ridge.predict(self.scaling.x(x, series)), series)

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
        outputs, inputs = scaling.y_mean.shape[-1], scaling.x_mean.shape[-1]
        if coef.shape != (outputs, data.window * inputs) or intercept.shape != (outputs,) \
                or not np.isfinite(coef).all() or not np.isfinite(intercept).all():
            raise damaged
        return cls(d["weight"], Ridge(coef, intercept), scaling, dataclasses.replace(spec, data=data))


@dataclass
class Forecaster:
    members: list[SequenceModel]  # same config, own seeds: their mean is the forecast
    scaling: Scaling
    spec: StudySpec
    partner: Partner | None = None  # the study's ridge, when the blend could not be folded into the members
    refit: int = 0  # trained on every row, the test split included (tuner train --refit): its windows
    combine: tuple[str, ...] = ()  # statistical partners its forecasts are averaged with (stats.py: --combine)

    def predict_scaled_windows(self, x: np.ndarray, series: np.ndarray | None = None) -> np.ndarray:
        """Unscaled windows (N, T, D) (of the given series of a panel: rows of the scaling) -> the members' mean
        forecast in the windows' (transformed) units."""
        scaled = self.scaling.x(x, series)
        return self.scaling.y_original(np.mean([m.predict(scaled) for m in self.members], axis=0), series)

    @property
    def parts(self) -> list[tuple[float, Forecaster | Partner]]:
        """What the forecast is the weighted sum of: the members, and the study's ridge where it could not be
        folded into them (parts.mix)."""
        if self.partner is None:
            return [(1.0, self)]
        return [(self.partner.weight, self), (1 - self.partner.weight, self.partner)]

    @property
    def lookback(self) -> int:
        """Rows a forecast looks back at: the longest window of its parts with its differencing lags."""
        return max(lookback(part.spec.data) for _, part in self.parts)

    def save(self, folder: str | Path) -> Path:
        """Write the members and model.json into `folder` (created); returns model.npz's path."""
        folder = Path(folder)
        names = ["model"] + [f"model-{m}" for m in range(1, len(self.members))]
        extra: dict[str, Any] = {"config": to_doc(self.spec), "scaling": self.scaling.to_dict(),
                                 "members": [f"{name}.npz" for name in names],
                                 "trained_on": ALL_ROWS if self.refit else "the rows before the test split"}
        if self.refit:
            extra["refit_windows"] = self.refit
        if self.partner is not None:
            extra["partner"] = self.partner.to_dict()
        if self.combine:
            extra["combine"] = list(self.combine)
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
        windows = extra.get("refit_windows", 0)
        refit = windows if extra.get("trained_on") == ALL_ROWS and isinstance(windows, int) and windows > 0 else 0
        combine = extra.get("combine", [])
        if not isinstance(combine, list) or not all(isinstance(n, str) and n in STATISTICAL for n in combine):
            raise ConfigError(f"{meta_path}: the statistical partners {combine!r} are not ones tuner knows "
                              f"({', '.join(STATISTICAL)}); retrain with tuner train")
        return cls(members, Scaling.from_dict(extra["scaling"], meta_path), spec, partner, refit, tuple(combine))

    def read(self, data: str | Path) -> tuple[pd.DataFrame | dict[str, pd.DataFrame], list[str]]:
        """A CSV laid out like the training data, as a frame (a panel's: {series id: frame}); and the target
        columns."""
        d = self.spec.data
        targets, features, time = forecast_columns(d, data)
        fix = ("fill them in the file (this model was trained with data.missing = \"error\"; retrain with another "
               "choice to have tuner fill or drop them)")
        if d.series:
            from ..data.panel import read_panel

            frames = read_panel(data, d.series, targets, features, time, d.missing, fix)
            self.check_fits(sum(len(f) for f in frames.values()), len(targets) + len(features))
            return frames, targets
        frame = read_csv(data, targets, features, time, d.missing, missing_fix=fix)
        self.check_fits(len(frame), frame.shape[1])
        return frame, targets

    def check_fits(self, rows: int, columns: int) -> None:
        """Refuse, before anything is allocated, data whose windows would not fit in memory."""
        d, m0 = self.spec.data, self.members[0]
        window = sum(part.spec.data.window for _, part in self.parts)  # every part's windows held at once
        check_fits(f"forecasting {rows} windows of {d.window} steps",
                   windows_bytes(rows, window, columns, m0.output_size, 1)
                   + activation_bytes(m0.cell, m0.input_size, m0.hidden_size, m0.num_layers, d.window, rows,
                                      m0.dtype, backward=False),
                   "forecast a shorter file")

    def forecast_windows(self, frame: pd.DataFrame, targets: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The forecast of every window, original units (n, horizon * targets), and the rows each forecasts:
        the parts' weighted sum on the windows all of them forecast, with the statistical partners."""
        forecast, idx, rows = mix(self.parts, lambda part: keyed_rows(*_forecast_windows(part, frame, targets)))
        rows = rows[idx]
        if not self.combine:
            return forecast, rows
        values = frame[targets[0]].to_numpy(dtype=float)
        return self.with_partners(forecast, [values[:r] for r in rows[:, 0]]), rows

    def with_partners(self, forecast: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        """The forecast (n, horizon) averaged with the statistical partners' from the end of each window's
        `histories` (the first target's values before its first target row); as is without --combine."""
        if not self.combine:
            return forecast
        return combine(forecast, forecasts(self.combine, histories, forecast.shape[1], self.spec.data.baseline_season))

    def forecast(self, data: str | Path, intervals: Intervals | None = None) -> pd.DataFrame:
        """One forecast per window of a CSV laid out like the training data, including the one after its last
        row, keyed by the time it forecasts (forecast_frame); with intervals, their bounds."""
        frame, targets = self.read(data)
        if isinstance(frame, dict):  # a panel: every series the model knows, with a series column
            from .panel import known_series, panel_forecast

            out = panel_forecast(self, known_series(self, frame), targets)
            if intervals is not None:
                with_bounds(out, intervals)
            return out
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
    w = windows_for(full, targets, d)
    if len(w.x) == 0:
        raise DataError(f"the data has {len(frame)} rows; forecasting needs at least {lookback(d)} (the window "
                        f"plus any differencing lags)")
    every = np.arange(len(w.x))
    return w.to_original(model.predict_scaled_windows(w.x), every), w.target_rows(every, d.horizon)


def save_ensemble(folder: str | Path, members: list[str]) -> None:
    """Name the member folders (each a Forecaster) whose mean forecast this folder's ensemble is."""
    (Path(folder) / ENSEMBLE).write_text(json.dumps({"format": "tuner.Ensemble/1", "members": members}, indent=2))


def member_dirs(folder: Path) -> list[str] | None:
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


def load_intervals(folder: Path) -> Intervals | None:
    path = folder / INTERVALS
    return Intervals.from_dict(read_json(path), path) if path.is_file() else None


__all__ = ["ENSEMBLE", "INTERVALS", "Forecaster", "Partner", "load_intervals", "member_dirs", "save_ensemble",
           "study_data"]
