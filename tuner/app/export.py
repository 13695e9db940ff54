"""Results out of the database: the best configs as ready-to-train files, and the trials as a table."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from ..config.spec import RUN_KEYS, STUDY_KEYS, StudySpec
from ..config.studyfile import applicable, load_study, study_from_dict, to_doc
from ..errors import ConfigError
from ..redact import mask
from ..tuning.meaning import trial_spec
from ..tuning.storage import open_reader

FORMATS = ("toml", "json", "yaml")


def find_study(study: str, storage: str | None = None) -> tuple[optuna.Study, StudySpec, str]:
    """STUDY is a study file (its storage unless --storage) or a study name (in --storage, by default
    sqlite:///studies/<name>.db). Nothing is created: a missing database or study is an error."""
    path = Path(study)
    if path.suffix in (".toml", ".json", ".yaml", ".yml") or path.exists():
        spec = load_study(path)
        name, url = spec.name, spec.storage_url(storage)
    else:
        spec, name, url = None, study, storage or StudySpec(name=study).default_storage
    backend = open_reader(url)  # reads only: a database that is not a tuner study is left as it was
    try:
        names = [s.study_name for s in optuna.get_all_study_summaries(backend, include_best_trial=False)]
    except Exception as exc:
        raise ConfigError(f"cannot read studies from {mask(url)}: {str(exc).splitlines()[0]}") from None
    if name not in names:
        raise ConfigError(f"no study named {name!r} in {mask(url)}; studies there: {', '.join(names) or 'none'}")
    loaded = optuna.load_study(study_name=name, storage=backend)
    if spec is None:
        doc = loaded.user_attrs.get("spec")
        if doc is None:
            raise ConfigError(f"study {name!r} was not made by tuner: give its study file instead of its name")
        spec = study_from_dict(doc, loaded.user_attrs.get("spec_path", ""))
    return loaded, spec, url


def best_trials(study: optuna.Study, k: int = 1, purpose: str = "export") -> list[FrozenTrial]:
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    if not complete:
        raise ConfigError(f"study {study.study_name!r} has no complete trial yet: nothing to {purpose}; "
                          f"run `tuner tune` until one completes")
    return sorted(complete, key=lambda t: float(t.value or 0.0))[:k]  # complete trials all have a value


def versions() -> dict[str, str]:
    out = {}
    for package in ("tuner", "numpy", "optuna", "scikit-learn", "pandas"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "unknown"
    return out


def trial_config(spec: StudySpec, trial: FrozenTrial, study: optuna.Study, url: str) -> dict:
    """The settings the trial ran with (as recorded in the study, whatever the study file says now) with its
    params merged in, no [search], and where it came from."""
    ran = trial_spec(study, trial, spec)
    final = ran.with_params(trial.params)
    doc = to_doc(final)
    doc.pop("search", None)
    doc = applicable(doc, dataclasses.replace(final, search={}))  # only the keys its data and optimizer read
    doc["study"] = {"name": spec.name, **{k: getattr(final, k) for k in STUDY_KEYS if k not in RUN_KEYS}}  # meaning
    doc["provenance"] = {
        "study": study.study_name,
        "storage": mask(url),
        "trial": trial.number,
        "cv_mse": trial.value,
        "cv_sem": trial.user_attrs.get("mse_sem", 0.0),
        "cv_fold_mse": trial.user_attrs.get("fold_mse", []),
        "cv_best_epochs": trial.user_attrs.get("best_epochs", []),
        "params": dict(trial.params),
        "baseline_data": baseline_data(ran),
        "versions": versions(),
        "exported": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return doc


def baseline_data(spec: StudySpec) -> dict[str, Any]:
    """The study's own [data] values of the keys a search may change (window, transforms) and its season: what
    tuner train builds the baselines from, so every config of a study meets the same baselines."""
    keys = [f.name for f in dataclasses.fields(spec.data) if f.metadata.get("searchable")] + ["season"]
    return {k: getattr(spec.data, k) for k in keys}


def estimator_params(doc: dict) -> dict[str, Any]:
    """RNNRegressor's parameters for an exported config: its [train] settings, its seed, and how a row of lags
    becomes a sequence (the window's steps; with feature columns, `n_steps` = window)."""
    from ..config.spec import TrainSpec
    from ..estimator import RNNRegressor

    keys = RNNRegressor.TRAIN_KEYS  # the estimator's parameters that are [train] keys
    train = {**dataclasses.asdict(TrainSpec()), **doc["train"]}
    data = doc["data"]
    features = len(data.get("features", [])) + (len(data["target"]) if isinstance(data.get("target"), list) else 1)
    return {**{k: train[k] for k in keys}, "n_steps": data.get("window", 12) if features > 1 else None,
            "random_state": doc["study"]["seed"]}


def dump(doc: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(doc, indent=2) + "\n"
    if fmt == "yaml":
        import yaml

        return yaml.safe_dump(doc, sort_keys=False)
    import tomli_w

    return tomli_w.dumps(doc)


def export(study: str, output: str | None = None, storage: str | None = None, fmt: str | None = None,
           top: int = 1, sklearn: bool = False) -> list[Path]:
    """Write the best `top` trials as config files; returns their paths. With `sklearn`, each file is the JSON
    of tuner.estimator.RNNRegressor's parameters for the trial instead: RNNRegressor(**json.load(f))."""
    if sklearn:
        if fmt not in (None, "json") or (output and Path(output).suffix not in ("", ".json")):
            raise ConfigError("--sklearn writes the estimator's parameters as JSON; name the file .json and drop "
                              "--format")
        fmt = "json"
    suffix = Path(output).suffix.lstrip(".").replace("yml", "yaml") if output else ""
    if fmt and suffix in FORMATS and fmt != suffix:  # `tuner train x.json` would then read YAML as JSON
        raise ConfigError(f"--format {fmt} does not match the output's suffix .{suffix}; name the file "
                          f"{Path(output or '').with_suffix('.' + fmt)} or drop --format")
    fmt = fmt or (suffix if suffix in FORMATS else "toml")
    if fmt not in FORMATS:
        raise ConfigError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if top < 1:
        raise ConfigError(f"--top must be at least 1, got {top}")
    loaded, spec, url = find_study(study, storage)
    out = Path(output or f"{spec.name}-best.{fmt}")
    trials = best_trials(loaded, top)
    paths = [out if top == 1 else out.with_name(f"{out.stem}-{rank}{out.suffix}") for rank in range(1, len(trials) + 1)]
    for path in paths:
        writable(path)
    for path, trial in zip(paths, trials, strict=True):
        doc = trial_config(spec, trial, loaded, url)
        path.write_text(dump(estimator_params(doc) if sklearn else doc, fmt))
    for rank in range(len(trials) + 1, top + 1):  # fewer complete trials than asked: no stale config of
        out.with_name(f"{out.stem}-{rank}{out.suffix}").unlink(missing_ok=True)  # an older export may stand in
    return paths


def writable(path: str | Path, folder: bool = False) -> Path:
    """Check an output path before any work: its folder is created if missing; a path that is a folder (or,
    with `folder`, a file), or a folder that cannot be made, is one line."""
    path = Path(path)
    if folder:
        if path.exists() and not path.is_dir():
            raise ConfigError(f"output {path} is a file; -o needs a directory here")
        target = path
    else:
        if path.is_dir():
            raise ConfigError(f"output {path} is a directory; give a file name, e.g. {path / 'out'}")
        target = path.parent
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the folder {target} for {path}: {exc.strerror}; choose another -o") from None
    if not os.access(target, os.W_OK):
        raise ConfigError(f"cannot write to {target}: permission denied; choose another -o")
    return path


def trials_table(study: str, storage: str | None = None) -> pd.DataFrame:
    """Optuna's trials_dataframe, with the per-fold scores and the baselines' means as plain columns."""
    loaded, _, _ = find_study(study, storage)
    df = loaded.trials_dataframe()
    if "user_attrs_fold_mse" in df:
        folds = df.pop("user_attrs_fold_mse").apply(lambda v: v if isinstance(v, list) else [])
        width = max((len(v) for v in folds), default=0)
        for i in range(width):
            df[f"fold_{i}_mse"] = folds.apply(lambda v, i=i: v[i] if i < len(v) else None)
    if "user_attrs_baselines" in df:
        baselines = df.pop("user_attrs_baselines")
        names = sorted({n for b in baselines if isinstance(b, dict) for n in b})
        for name in names:
            df[f"baseline_{name}_mse"] = baselines.apply(
                lambda b, n=name: sum(b[n]) / len(b[n]) if isinstance(b, dict) and b.get(n) else None)
    for column in [c for c in df if df[c].apply(lambda v: isinstance(v, (list, dict))).any()]:
        df[column] = df[column].apply(lambda v: json.dumps(v) if isinstance(v, (list, dict)) else v)
    return df
