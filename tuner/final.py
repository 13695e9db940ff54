"""From a config to a model: retrain on all tuning data, score once on the held-out test split, save; and
forecast with a saved model on new data. Several configs (a study's top K trials) make one ensemble whose
forecast is the mean of theirs.

The final model trains for the median of the early-stopping epochs its trial reached in cross-validation
(there is no validation data left to stop on; with patience 0 that is exactly [train].epochs), or for
[train].epochs when the config has no provenance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .data.datasets import SHIPPED, read_csv
from .data.prepare import prepare, scores
from .data.windows import make_windows
from .errors import ConfigError, DataError
from .memory import activation_bytes, check_fits, trial_bytes, windows_bytes
from .nn import SequenceModel
from .nn.model import read_json
from .objective import train_model, trial_seed
from .spec import StudySpec
from .studyfile import study_from_dict, to_doc


@dataclass
class FinalResult:
    metrics: dict
    predictions: pd.DataFrame
    model_path: Path
    table: str


def final_epochs(spec: StudySpec) -> int:
    best = spec.provenance.get("cv_best_epochs") or []
    return int(np.median(best)) if best else spec.train.epochs


def train_final(spec: StudySpec, out_dir: str | Path) -> FinalResult:
    """Train on every window tuning saw, test on the held-out split, and write model, metrics, predictions.
    With [train].ensemble = N, N members with their own seeds are trained and their predictions averaged,
    as cross-validation scored them."""
    out_dir = Path(out_dir)
    prepared = prepare(spec.data, spec.cv, spec.seed)
    split = prepared.test()
    cfg = spec.train
    epochs = final_epochs(spec)
    check_fits(f"training {cfg.cell} with hidden_units={cfg.hidden_units}",
               trial_bytes(cfg.cell, prepared.input_size, cfg.hidden_units, prepared.output_size, cfg.num_layers,
                           cfg.dtype, prepared.x.shape[1], min(cfg.batch_size, len(prepared.train_idx)),
                           len(prepared.test_idx), cfg.ensemble),
               "lower hidden_units, batch_size or num_layers")
    members = []
    for member in range(cfg.ensemble):
        seed = trial_seed(spec.seed, int(spec.provenance.get("trial", 0)), len(prepared.folds), member)
        members.append(train_model(cfg, prepared, seed, split.x_train, split.y_train, epochs)[0])
    pred = np.mean([m.predict(split.x_eval) for m in members], axis=0)
    test = split.score(pred)
    baselines = split.baselines()

    targets = list(spec.data.targets) if spec.data.dataset == "csv" else ["value"]
    predicted = split.to_original(pred)
    predictions = _predictions_frame(prepared.time[prepared.test_idx] if prepared.time is not None else None,
                                     split.y_eval_orig, predicted, targets)
    metrics = {
        "model": {"cell": cfg.cell, "hidden_units": cfg.hidden_units, "n_params": members[0].n_params,
                  "epochs": epochs, "ensemble": cfg.ensemble},
        "test": test,
        "baselines": baselines,
        "n_train": len(prepared.train_idx),
        "n_test": len(prepared.test_idx),
        "cv": {k: spec.provenance[k] for k in ("cv_mse", "cv_sem") if k in spec.provenance},
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    extra = {"config": to_doc(spec), "scaling": {
        "x_mean": split._x_scaler.mean_.tolist(), "x_scale": split._x_scaler.scale_.tolist(),
        "y_mean": split._y_scaler.mean_.tolist(), "y_scale": split._y_scaler.scale_.tolist()}}
    names = ["model"] + [f"model-{m}" for m in range(1, cfg.ensemble)]
    extra["members"] = [f"{name}.npz" for name in names]
    model_path = members[0].save(out_dir / "model", extra=extra)
    for name, member in zip(names[1:], members[1:], strict=True):
        member.save(out_dir / name)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    predictions.to_csv(out_dir / "predictions.csv", index=False)
    return FinalResult(metrics, predictions, model_path, comparison_table(metrics, cfg.cell))


def train_ensemble(specs: list[StudySpec], out_dir: str | Path) -> FinalResult:
    """Train each config's final model into OUT/member-1, member-2, ... and score the mean of their forecasts
    on the test split they share. Averaging the best few trials' models, rather than betting on the single
    best, undoes part of the luck in which trial came out on top."""
    if len(specs) == 1:
        return train_final(specs[0], out_dir)
    out_dir = Path(out_dir)
    splits = {_test_target(s) for s in specs}
    if len(splits) > 1:
        raise ConfigError("these configs forecast different test splits (dataset, range, test size or horizon "
                          "differ); an ensemble needs configs from one study")
    members = [train_final(spec, out_dir / f"member-{i}") for i, spec in enumerate(specs, start=1)]
    rows = members[0].predictions.drop(columns="predicted")
    if any(not m.predictions.drop(columns="predicted").equals(rows) for m in members[1:]):
        raise ConfigError("these configs' test windows differ (the same targets at the same times are needed); "
                          "an ensemble needs configs from one study")
    predictions = members[0].predictions.copy()
    predictions["predicted"] = np.mean([m.predictions["predicted"] for m in members], axis=0)
    first = members[0].metrics
    metrics = {
        "model": {"members": len(members), "cells": [m.metrics["model"]["cell"] for m in members],
                  "epochs": [m.metrics["model"]["epochs"] for m in members]},
        "test": scores(predictions["predicted"].to_numpy(), predictions["actual"].to_numpy()),
        "baselines": first["baselines"],
        "n_train": first["n_train"],
        "n_test": first["n_test"],
        "members": [{"dir": f"member-{i}", "trial": spec.provenance.get("trial"), "test": m.metrics["test"],
                     "cv": m.metrics["cv"]} for i, (spec, m) in enumerate(zip(specs, members, strict=True), start=1)],
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    predictions.to_csv(out_dir / "predictions.csv", index=False)
    table = comparison_table(metrics, "ensemble")
    for i, (spec, m) in enumerate(zip(specs, members, strict=True), start=1):
        table += (f"\n  member-{i}: trial {spec.provenance.get('trial')}, {m.metrics['model']['cell']}, "
                  f"RMSE {m.metrics['test']['rmse']:.5g} alone")
    return FinalResult(metrics, predictions, out_dir / "member-1" / "model.npz", table)


def _test_target(spec: StudySpec) -> tuple:
    d = spec.data
    return (d.dataset, d.path, d.targets, d.start, d.end, d.test_size, d.test_fraction, d.horizon, d.n_points,
            d.length)


def _predictions_frame(times, actual: np.ndarray, predicted: np.ndarray, targets: list[str]) -> pd.DataFrame:
    n, cols = actual.shape
    horizon = cols // len(targets)
    if horizon == 1 and len(targets) == 1:
        return pd.DataFrame({"time": times if times is not None else np.arange(n), "actual": actual[:, 0],
                             "predicted": predicted[:, 0]})
    rows = []
    for i in range(n):
        for step in range(horizon):
            for j, target in enumerate(targets):
                col = step * len(targets) + j
                rows.append({"time": times[i] if times is not None else i, "step": step + 1, "target": target,
                             "actual": actual[i, col], "predicted": predicted[i, col]})
    return pd.DataFrame(rows)


def comparison_table(metrics: dict, cell: str) -> str:
    rows = [(f"{cell} (tuned)", metrics["test"])] + list(metrics["baselines"].items())
    best = min(r[1]["rmse"] for r in rows)
    model = metrics["model"]
    if "members" in model:
        how = f"the mean of {model['members']} configs' models, trained {model['epochs']} epochs"
    else:
        n = model.get("ensemble", 1)
        how = f"trained {model['epochs']} epochs" + (f" (mean of {n} models)" if n > 1 else "")
    lines = [f"held-out test split: {metrics['n_test']} windows; {how} on {metrics['n_train']} windows",
             f"{'model':<16} {'RMSE':>12} {'MAE':>12}"]
    for name, s in rows:
        lines.append(f"{name:<16} {s['rmse']:>12.5g} {s['mae']:>12.5g}" + ("  <- best" if s["rmse"] == best else ""))
    return "\n".join(lines)


def predict_saved(model_dir: str | Path, data: str | Path, _member: bool = False) -> pd.DataFrame:
    """Forecast with a model saved by train_final on a CSV laid out like its training data: one forecast per
    window, including the one after the last row. For an ensemble (train_ensemble's directory), the mean of
    its members' forecasts for the windows they all have (members with longer windows start later)."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ConfigError(f"{model_dir} is not a directory; give the directory `tuner train -o DIR` wrote")
    meta_path = model_dir / "model.json"
    metrics_path = model_dir / "metrics.json"  # rewritten by every train: says which kind the directory holds
    listed = read_json(metrics_path).get("members") if metrics_path.is_file() and not _member else None
    if listed:
        dirs = [m.get("dir") if isinstance(m, dict) else None for m in listed]
        if not all(isinstance(d, str) and d and d == Path(d).name and d not in (".", "..") for d in dirs):
            raise ConfigError(f"{metrics_path} lists members {dirs!r}; each must be a folder inside {model_dir}; "
                              f"retrain with tuner train")
        members = [predict_saved(model_dir / d, data, _member=True) for d in dirs]
        common = members[0]["window_end"]
        for m in members[1:]:
            common = common[common.isin(m["window_end"])]
        aligned = [m.set_index("window_end").loc[common] for m in members]
        return (sum(aligned) / len(aligned)).reset_index()
    if not meta_path.is_file():
        raise ConfigError(f"{model_dir} holds no model.json; give the directory `tuner train -o DIR` wrote")
    meta = read_json(meta_path)
    extra = meta.get("extra")
    names = extra.get("members", ["model.npz"]) if isinstance(extra, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) and n == Path(n).name and n.endswith(".npz")
                                              for n in names) or not {"config", "scaling"} <= set(extra) \
            or not isinstance(extra["config"], dict) or not isinstance(extra["scaling"], dict):
        raise ConfigError(f"{meta_path} is not a saved forecaster (no config, scaling or member files); "
                          f"retrain with tuner train")
    members = [SequenceModel.load(model_dir / name) for name in names]
    spec = study_from_dict(extra["config"])
    d = spec.data
    targets = list(d.targets) if d.dataset == "csv" else None
    if targets is None:  # a built-in series: the new file needs that series' one column (and its time column)
        _, column, time = SHIPPED.get(d.dataset, ("", "value", ""))
        frame = read_csv(data, column, time=time if _has_column(data, time) else None, missing=d.missing)
        targets = [column]
    else:
        frame = read_csv(data, targets, list(d.features), d.time or None, d.missing)
    m0 = members[0]
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
                        f"{d.window + d.difference + d.seasonal_difference} (the window plus any differencing lags)")
    s = meta["extra"]["scaling"]
    x = (w.x - np.array(s["x_mean"])) / np.array(s["x_scale"])
    pred = np.mean([m.predict(x) for m in members], axis=0) * np.array(s["y_scale"]) + np.array(s["y_mean"])
    forecast = w.to_original(pred, np.arange(len(w.x)))
    index = frame.index
    ends = [index[t] if t < len(index) else None for t in w.t_last]
    out = pd.DataFrame({"window_end": ends})
    for step in range(d.horizon):
        for j, target in enumerate(targets):
            out[f"{target}+{step + 1}"] = forecast[:, step * len(targets) + j]
    return out


def _has_column(path, column: str) -> bool:
    if not column:
        return False
    try:
        return column in pd.read_csv(path, comment="#", nrows=0).columns
    except Exception:
        return False
