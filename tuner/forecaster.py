"""The saved artifact of `tuner train`: a Forecaster is the trained members, the scaling they were trained
with and the spec that says how a CSV becomes windows; it saves, loads and forecasts. Several configs' models
(tuner train over a study's top K) are a folder of Forecasters named by an ensemble.json.

On disk, a Forecaster folder holds model.npz (+ model-1.npz ... for [train].ensemble > 1) and model.json
with the first member's constructor arguments and, under "extra", the config, the scaling and the member
files. Every file is checked before anything large is read (nn/model.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .data.datasets import forecast_columns, read_csv
from .data.prepare import Scaling
from .data.windows import make_windows
from .errors import ConfigError, DataError
from .memory import activation_bytes, check_fits, windows_bytes
from .nn import SequenceModel
from .nn.model import read_json
from .spec import StudySpec
from .studyfile import study_from_dict, to_doc

ENSEMBLE = "ensemble.json"


@dataclass
class Forecaster:
    members: list[SequenceModel]  # same config, own seeds: their mean is the forecast
    scaling: Scaling
    spec: StudySpec

    def predict_scaled_windows(self, x: np.ndarray) -> np.ndarray:
        """Unscaled windows (N, T, D) -> the members' mean forecast in the windows' (transformed) units."""
        return self.scaling.y_original(np.mean([m.predict(self.scaling.x(x)) for m in self.members], axis=0))

    def save(self, folder: str | Path) -> Path:
        """Write the members and model.json into `folder` (created); returns model.npz's path."""
        folder = Path(folder)
        names = ["model"] + [f"model-{m}" for m in range(1, len(self.members))]
        extra = {"config": to_doc(self.spec), "scaling": self.scaling.to_dict(),
                 "members": [f"{name}.npz" for name in names]}
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
        return cls(members, Scaling.from_dict(extra["scaling"], meta_path), study_from_dict(extra["config"]))

    def forecast(self, data: str | Path) -> pd.DataFrame:
        """One forecast per window of a CSV laid out like the training data, including the one after its last
        row: a column per target and step ahead, indexed by the window's last time."""
        d = self.spec.data
        targets, features, time = forecast_columns(d, data)
        frame = read_csv(data, targets, features, time, d.missing)
        m0 = self.members[0]
        check_fits(f"forecasting {len(frame)} windows of {d.window} steps",
                   windows_bytes(len(frame), d.window, frame.shape[1], m0.output_size, 1)
                   + activation_bytes(m0.cell, m0.input_size, m0.hidden_size, m0.num_layers, d.window, len(frame),
                                      m0.dtype, backward=False),
                   "forecast a shorter file")
        future = pd.DataFrame(np.nan, index=range(d.horizon), columns=frame.columns)
        full = pd.concat([frame.reset_index(drop=True), future], ignore_index=True)
        w = make_windows(full, tuple(targets), d.window, d.horizon, log=d.log, difference=d.difference,
                         seasonal_difference=d.seasonal_difference, normalise=d.normalise)
        if len(w.x) == 0:
            raise DataError(f"{data} has {len(frame)} rows; forecasting needs at least "
                            f"{d.window + d.difference + d.seasonal_difference} (the window plus any differencing "
                            f"lags)")
        forecast = w.to_original(self.predict_scaled_windows(w.x), np.arange(len(w.x)))
        index = frame.index
        out = pd.DataFrame({"window_end": [index[t] if t < len(index) else None for t in w.t_last]})
        for step in range(d.horizon):
            for j, target in enumerate(targets):
                out[f"{target}+{step + 1}"] = forecast[:, step * len(targets) + j]
        return out


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
    return listed


def predict(folder: str | Path, data: str | Path) -> pd.DataFrame:
    """Forecast with what `tuner train -o FOLDER` wrote. For an ensemble, the mean of its members' forecasts
    for the windows they all have (members with longer windows start later)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a directory; give the directory `tuner train -o DIR` wrote")
    dirs = _member_dirs(folder)
    if dirs is None:
        return Forecaster.load(folder).forecast(data)
    members = [Forecaster.load(folder / d).forecast(data) for d in dirs]
    common = members[0]["window_end"]
    for m in members[1:]:
        common = common[common.isin(m["window_end"])]
    aligned = [m.set_index("window_end").loc[common] for m in members]
    return (sum(aligned) / len(aligned)).reset_index()


__all__ = ["Forecaster", "predict", "save_ensemble"]
