"""What a study means, recorded in the study itself, so that its trials never silently mix.

A trial's value is only comparable with another's if both ran on the same data, folds, fixed settings and
seed: its *meaning*. The study stores every version of its spec it has run with (user attribute
`spec:<key>`, the document with the storage password masked, and the SHA-256 of a CSV it reads), and every
trial stores the key of the version it ran with (`spec`). A rerun whose meaning differs from any recorded
version is refused, naming the keys. A changed [search] space is allowed: it does not change what a value
means, and each trial still traces to the exact spec it ran with (`tuner export` writes that one).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from ..config.spec import RUN_KEYS, STUDY_KEYS, StudySpec
from ..config.studyfile import study_from_dict, to_doc
from ..data.datasets import DATASETS
from ..errors import ConfigError, DataError

PREFIX = "spec:"


def data_digest(spec: StudySpec) -> str | None:
    """SHA-256 of the CSV a study reads (None for built-in and synthetic data, which the spec pins)."""
    if not DATASETS[spec.data.dataset].reads_file or not spec.data.path:
        return None
    digest = hashlib.sha256()
    try:
        with open(spec.data.path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise DataError(f"cannot read data file {spec.data.path}: {exc.strerror}; check data.path") from None
    return digest.hexdigest()


def meaning(spec: StudySpec, digest: str | None) -> dict[str, Any]:
    """The settings a trial's value depends on, as flat `section.key` entries; searched keys are left out
    (each trial records its own values of those)."""
    out: dict[str, Any] = {f"study.{k}": getattr(spec, k) for k in STUDY_KEYS if k not in RUN_KEYS}  # the seed
    for section in ("data", "cv", "train"):
        for f in dataclasses.fields(getattr(spec, section)):
            if f.name in spec.search or (section, f.name) in (("data", "seed"), ("data", "path"), ("data", "season")):
                continue  # data.seed is the study seed; data.path matters through its content; season: baselines
            value = getattr(getattr(spec, section), f.name)
            out[f"{section}.{f.name}"] = list(value) if isinstance(value, tuple) else value
    if DATASETS[spec.data.dataset].reads_file:
        out["data.path" if digest is None else "data.content"] = digest or spec.data.path
    return out


def version(spec: StudySpec, digest: str | None) -> tuple[str, dict[str, Any]]:
    """(key, entry): the spec as a document (no password), the data's digest, and a short key naming both."""
    doc = to_doc(spec)
    for key in RUN_KEYS:  # what does not change a value's meaning does not make a new version
        doc["study"].pop(key, None)
    entry = {"spec": doc, "data_sha256": digest}
    key = hashlib.sha256(json.dumps(entry, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return key, entry


def recorded(attrs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The versions a study has run with; a study made before versions were recorded has only `spec`."""
    versions = {k.removeprefix(PREFIX): v for k, v in attrs.items() if k.startswith(PREFIX)}
    if not versions and isinstance(attrs.get("spec"), dict):
        versions["legacy"] = {"spec": attrs["spec"], "data_sha256": None}
    return versions


def _spec_of(entry: dict[str, Any]) -> StudySpec:
    return study_from_dict(entry["spec"], entry["spec"].get("path", ""))


def changes(attrs: dict[str, Any], spec: StudySpec, digest: str | None) -> list[str]:
    """`key: old -> new` for every meaning key that differs from a recorded version (keys searched in either
    are a change of search space, not of meaning)."""
    new = meaning(spec, digest)
    out: dict[str, str] = {}
    for entry in recorded(attrs).values():
        try:
            old = meaning(_spec_of(entry), entry.get("data_sha256"))
        except Exception:  # a version this tuner cannot read: compare what can be compared
            old = {}
        for key in old.keys() & new.keys():
            if old[key] != new[key] and key not in out:
                out[key] = f"{key} was {_short(old[key])}, now {_short(new[key])}"
    return list(out.values())


def _short(value: Any) -> str:
    """A value for a one-line message: a digest by its first characters."""
    return f"{value[:12]}…" if isinstance(value, str) and len(value) == 64 else repr(value)


def check_same_meaning(study_name: str, attrs: dict[str, Any], spec: StudySpec, digest: str | None,
                       where: str) -> None:
    """Refuse, in one line, to add trials of another meaning to a study."""
    changed = changes(attrs, spec, digest)
    if changed:
        raise ConfigError(f"study {study_name!r} in {where} ran with other settings ({'; '.join(changed)}), so new "
                          f"trials would not compare with its old ones; give the study a new [study].name, or "
                          f"rerun with --fresh to keep the old trials as study '{study_name}-N' and start over")


def record(study: optuna.Study, spec: StudySpec, digest: str | None) -> str:
    """Store this version of the spec in the study (once) and return its key for the trials to carry."""
    key, entry = version(spec, digest)
    attrs = study.user_attrs
    if PREFIX + key not in attrs:
        study.set_user_attr(PREFIX + key, entry)
    doc = to_doc(spec)
    if attrs.get("spec") != doc:  # the latest: what `tuner export NAME` and `tuner report NAME` start from
        study.set_user_attr("spec", doc)
    if attrs.get("spec_path") != spec.path:
        study.set_user_attr("spec_path", spec.path)
    return key


def trial_spec(study: optuna.Study, trial: FrozenTrial, fallback: StudySpec) -> StudySpec:
    """The spec a trial actually ran with (its searched values not yet put in)."""
    entry = recorded(study.user_attrs).get(trial.user_attrs.get("spec", "legacy"))
    if entry is None:
        return fallback
    spec = _spec_of(entry)
    return dataclasses.replace(spec, name=fallback.name, path=fallback.path or spec.path)


def archive_name(storage: optuna.storages.BaseStorage, name: str) -> str:
    """The first free `NAME-N` in the storage, for --fresh."""
    names = {s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    n = 1
    while f"{name}-{n}" in names:
        n += 1
    return f"{name}-{n}"


def start_fresh(storage: optuna.storages.BaseStorage, name: str) -> str | None:
    """Keep an existing study's trials under NAME-N and delete NAME, so it can start over; returns NAME-N."""
    names = {s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    if name not in names:
        return None
    archive = archive_name(storage, name)
    optuna.copy_study(from_study_name=name, from_storage=storage, to_storage=storage, to_study_name=archive)
    optuna.delete_study(study_name=name, storage=storage)
    return archive


__all__ = ["archive_name", "changes", "check_same_meaning", "data_digest", "meaning", "record", "recorded",
           "start_fresh", "trial_spec", "version"]
