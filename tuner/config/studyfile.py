"""Study files in and out: TOML, JSON or YAML text -> a validated StudySpec, and a StudySpec -> the document
that rebuilds it (exports, a study's record, model.json).
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from ..errors import ConfigError, TunerError
from ..limits import read_bounded
from .rules import build, check_table, from_table
from .search import parse_search
from .space import Choice, Range
from .spec import SECTIONS, STUDY_KEYS, CVSpec, DataSpec, StudySpec, TrainSpec


def _plain(spec: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """A spec's fields as TOML-ready values: tuples as lists, None left out."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(spec).items()
            if v is not None and k not in skip}


def to_doc(spec: StudySpec) -> dict[str, Any]:
    """The study as the document a study file holds: study_from_dict(to_doc(s)) rebuilds s."""
    values = {k: getattr(spec, k) for k in STUDY_KEYS}
    study = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items() if v is not None and v != ()}
    if study.get("storage"):  # documents are stored and written out: never with a password
        from ..redact import mask

        study["storage"] = mask(str(study["storage"]))
    doc: dict[str, Any] = {"study": study, "data": _plain(spec.data, skip=("seed",)), "cv": _plain(spec.cv),
                           "train": _plain(spec.train)}
    search: dict[str, Any] = {}
    for key, entry in spec.search.items():
        if isinstance(entry, Choice):
            search[key] = list(entry.values)
        else:
            search[key] = {k: v for k, v in dataclasses.asdict(entry).items() if v is not None}
    if search:
        doc["search"] = search
    if spec.provenance:
        doc["provenance"] = spec.provenance
    return doc


def applicable(doc: dict[str, Any], spec: StudySpec) -> dict[str, Any]:
    """The document without keys that do not apply: [data] keys its dataset does not read, and the settings of
    optimizers the study never uses (neither fixed nor among the searched choices)."""
    used = {spec.train.optimizer}
    entry = spec.search.get("optimizer")
    if isinstance(entry, Choice):
        used |= set(entry.values)
    from ..nn.optimizers import optimizer_settings

    keep = {k for name in used for k in optimizer_settings(name)}
    others = {"momentum", "nesterov", "beta1", "beta2", "rho"} - keep
    out = dict(doc)
    out["data"] = {k: v for k, v in doc["data"].items() if k in spec.data.keys_that_apply()}
    out["train"] = {k: v for k, v in doc["train"].items() if k not in others}
    if "search" in doc:
        out["search"] = {k: v for k, v in doc["search"].items() if k not in others}
    return out


MAX_STUDY_FILE = 1 << 20  # bytes: a study file is a few hundred; anything near this is not one
FORMAT_NAMES = {".json": "JSON", ".yaml": "YAML", ".yml": "YAML"}


def _yaml_without_aliases(text: str) -> Any:
    """yaml.safe_load, refusing anchors and aliases: a few hundred bytes of nested aliases expand into
    gigabytes once the document is walked ("billion laughs"), and a study file never needs them."""
    import yaml

    class Loader(yaml.SafeLoader):
        def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
            if self.check_event(yaml.AliasEvent) or getattr(self.peek_event(), "anchor", None):
                line = self.peek_event().start_mark.line + 1
                raise ValueError(f"anchors and aliases (&, *) are not allowed (line {line})")
            return super().compose_node(parent, index)

    return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass


def parse_document(text: str, suffix: str) -> dict:
    """TOML by default; JSON and YAML by file suffix (exported configs come in all three). Raises ValueError
    with the parser's first line when the text is not a mapping of sections in that format."""
    if suffix == ".json":
        import json

        doc = json.loads(text)
    elif suffix in (".yaml", ".yml"):
        import yaml

        try:
            doc = _yaml_without_aliases(text)
        except yaml.YAMLError as exc:  # not a ValueError
            raise ValueError(str(exc)) from None
    else:
        doc = tomllib.loads(text)
    if not isinstance(doc, dict):
        raise ValueError(f"the document is a {type(doc).__name__}, not a mapping of sections such as [study]")
    return doc


def load_study(path: str | Path) -> StudySpec:
    """Read and validate a study file. Errors name the file and the key."""
    path = Path(path)
    try:
        text = read_bounded(path, MAX_STUDY_FILE, "study file", ConfigError).decode()
    except FileNotFoundError:
        raise ConfigError(f"study file {path} does not exist; the shipped ones are in studies/") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory; give a study file such as studies/sunspots.toml") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read study file {path}: {exc}") from None
    kind = FORMAT_NAMES.get(path.suffix.lower(), "TOML")
    try:
        doc = parse_document(text, path.suffix.lower())
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError, JSONDecodeError are ValueErrors
        reason = str(exc).splitlines()[0] if str(exc) else "nested too deeply"
        raise ConfigError(f"{path} is not valid {kind}: {reason}") from None
    try:
        return study_from_dict(doc, path)
    except TunerError as exc:
        raise type(exc)(f"{path}: {exc}") from None


def study_from_dict(doc: dict, path: str | Path = "") -> StudySpec:
    """A study spec from a parsed document (a study file, an exported config, a study's record)."""
    for key in doc:
        if key not in SECTIONS:
            raise ConfigError(f"unknown section [{key}]; the sections are: {', '.join(SECTIONS)}")
    study_table = doc.get("study", {})
    if isinstance(study_table, dict):
        study_table = {"name": Path(path).stem if path else "study", **study_table}
    study = check_table(StudySpec, study_table, "study", STUDY_KEYS)
    seed = study.get("seed", 0)
    data_table = doc.get("data", {})
    if isinstance(data_table, dict) and "path" in data_table and "dataset" not in data_table:
        data_table = {"dataset": "csv", **data_table}  # a file to read is a CSV study; no need to say it twice
    data = from_table(DataSpec, {"seed": seed, **data_table} if isinstance(data_table, dict) else data_table, "data")
    cv = from_table(CVSpec, doc.get("cv", {}), "cv")
    train = from_table(TrainSpec, doc.get("train", {}), "train")
    search = parse_search(doc.get("search", {}), train, data)
    provenance = doc.get("provenance", {})
    if not isinstance(provenance, dict):
        raise ConfigError("[provenance] must be a table")
    spec = build(StudySpec, study, "study", data=data, cv=cv, train=train, search=search, provenance=provenance,
                 path=str(path))
    if spec.sampler == "grid" and any(isinstance(e, Range) for e in search.values()):
        raise ConfigError("sampler = \"grid\" needs every [search] entry to be a list of choices")
    return spec


__all__ = ["applicable", "load_study", "parse_document", "study_from_dict", "to_doc"]
