"""Settings as frozen dataclasses, validated once when they are built from a TOML table.

Each spec checks the type of every key against its annotation, then its own rules in __post_init__; every
error names the key, the value received and what would be valid.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, DataError, TunerError

SCHEMES = ("auto", "time", "kfold")
MISSING = ("error", "interpolate", "drop")
NORMALISE = ("none", "last")


def _type_ok(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is float:  # NaN and inf are never a valid setting
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (tuple, list):
        item = args[0] if args else Any
        return isinstance(value, (list, tuple)) and all(_type_ok(v, item) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin in (tuple, list):
        return f"a list of {_type_name(args[0])}s" if args else "a list"
    return {int: "an integer", float: "a finite number", str: "a string", bool: "true or false",
            type(None): "absent", dict: "a table"}.get(hint, getattr(hint, "__name__", str(hint)))


def check_table(cls: type, table: dict, section: str, keys: list[str] | None = None) -> dict[str, Any]:
    """A TOML table's values for spec `cls`: unknown keys (of `keys`, default all fields) and wrong types
    fail naming `section.key`; lists become tuples where the field is a tuple."""
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] must be a table, got {table!r}")
    hints = typing.get_type_hints(cls)
    names = keys or [f.name for f in dataclasses.fields(cls) if f.init]
    for key, value in table.items():
        if key not in names:
            raise ConfigError(f"unknown key {section}.{key}; valid keys in [{section}]: {', '.join(names)}")
        if not _type_ok(value, hints[key]):
            raise ConfigError(f"{section}.{key} must be {_type_name(hints[key])}, got {key}={value!r}")
    return {k: tuple(v) if isinstance(v, list) and typing.get_origin(hints[k]) is tuple else v
            for k, v in table.items()}


def build(cls: type, values: dict, section: str, **extra: Any) -> Any:
    """cls(**values, **extra), its own validation errors prefixed with the section."""
    try:
        return cls(**values, **extra)
    except TunerError as exc:
        raise type(exc)(f"{section}.{exc}") from None


def from_table(cls: type, table: dict, section: str, **extra: Any) -> Any:
    """Build spec `cls` from a TOML table: unknown keys and wrong types fail naming `section.key`."""
    return build(cls, check_table(cls, table, section), section, **extra)


def positive(name: str, value: int | float) -> None:
    if not value > 0:  # also refuses NaN
        raise ConfigError(f"{name} must be positive, got {name}={value!r}")


def one_of(name: str, value: Any, choices: typing.Iterable) -> None:
    choices = list(choices)
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, choices))}; got {name}={value!r}")


@dataclass(frozen=True)
class DataSpec:
    """[data]: which series, how it becomes windows, what is held out for the final test."""

    dataset: str = "sunspots"
    # dataset = "csv": the user's file
    path: str = ""
    target: str | tuple[str, ...] = ""
    features: tuple[str, ...] = ()
    time: str = ""
    missing: str = "error"
    # synthetic data: sine (n_points values) and adding (n_points sequences of `length` steps)
    n_points: int = 1000
    length: int = 30
    noise: float = 0.1
    # time range (inclusive, compared with the time column) and the held-out test split
    start: int | float | str | None = None
    end: int | float | str | None = None
    test_fraction: float = 0.2
    test_size: int = 0  # a number of points; overrides test_fraction when > 0
    # windows: `window` past steps -> the next `horizon` values, one window every `stride` steps
    window: int = 12
    horizon: int = 1
    stride: int = 1
    # transforms for trending series (each may also be searched in [search])
    log: bool = False
    difference: int = 0  # 1: model the first difference
    seasonal_difference: int = 0  # m > 0: also difference at lag m (12 for monthly data)
    normalise: str = "none"  # "last": each window relative to its last value
    seed: int = 0  # for synthetic data; set from the study's seed

    def __post_init__(self) -> None:
        from .data.datasets import DATASETS  # the registry lives with the loaders

        if self.dataset not in DATASETS:
            raise DataError(f"dataset must be one of {', '.join(sorted(DATASETS))}; got dataset={self.dataset!r}")
        one_of("missing", self.missing, MISSING)
        one_of("normalise", self.normalise, NORMALISE)
        one_of("difference", self.difference, (0, 1))
        for name in ("window", "horizon", "stride", "n_points", "length"):
            positive(name, getattr(self, name))
        if self.noise < 0:
            raise ConfigError(f"noise must be >= 0, got noise={self.noise!r}")
        if not 0 < self.test_fraction < 1:
            raise ConfigError(f"test_fraction must be between 0 and 1, got test_fraction={self.test_fraction!r}")
        for name in ("test_size", "seasonal_difference"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {name}={getattr(self, name)!r}")
        if self.seasonal_difference and self.horizon > self.seasonal_difference:
            raise ConfigError(f"horizon must be at most seasonal_difference={self.seasonal_difference} to undo "
                              f"the seasonal difference, got horizon={self.horizon}")

    @property
    def targets(self) -> tuple[str, ...]:
        return (self.target,) if isinstance(self.target, str) else tuple(self.target)


@dataclass(frozen=True)
class CVSpec:
    """[cv]: the folds every trial is scored on."""

    folds: int = 5
    scheme: str = "auto"  # time (TimeSeriesSplit) for series, kfold (shuffled) for independent sequences
    gap: int | None = None  # windows left out between train and validation; default: enough that none overlap

    def __post_init__(self) -> None:
        one_of("scheme", self.scheme, SCHEMES)
        if self.folds < 2:
            raise ConfigError(f"folds must be at least 2, got folds={self.folds!r}")
        if self.gap is not None and self.gap < 0:
            raise ConfigError(f"gap must be >= 0, got gap={self.gap!r}")


MAX_ENSEMBLE = 20
MAX_SEED = 2**32 - 1
STORAGE_ENV = "TUNER_STORAGE"  # how a storage URL, password and all, reaches workers: never a command line


@dataclass(frozen=True)
class TrainSpec:
    """[train]: the model and training settings; a key also listed in [search] is searched instead."""

    cell: str = "lstm"
    num_layers: int = 1
    hidden_units: int = 32
    activation: str = "tanh"
    optimizer: str = "adam"
    learning_rate: float = 0.001
    batch_size: int = 32
    epochs: int = 100
    patience: int = 10  # early stopping: epochs without a better validation score; 0 turns it off
    clip_norm: float = 1.0  # gradient clipping by global norm; 0 turns it off
    weight_decay: float = 0.0
    dtype: str = "float32"
    ensemble: int = 1  # models per fold (and in the final model) whose mean prediction is scored
    # optimizer-specific settings, used only by their optimizer
    momentum: float = 0.9
    nesterov: bool = False
    beta1: float = 0.9
    beta2: float = 0.999
    rho: float = 0.9

    def __post_init__(self) -> None:
        from .nn import ACTIVATIONS, CELLS, OPTIMIZERS
        from .nn.model import DTYPES, MAX_LAYERS

        for name, registry in (("cell", CELLS), ("activation", ACTIVATIONS), ("optimizer", OPTIMIZERS)):
            one_of(name, getattr(self, name), sorted(registry))
        one_of("dtype", self.dtype, DTYPES)
        for name in ("hidden_units", "learning_rate", "batch_size", "epochs", "num_layers", "ensemble"):
            positive(name, getattr(self, name))
        if self.num_layers > MAX_LAYERS:
            raise ConfigError(f"num_layers must be at most {MAX_LAYERS}, got num_layers={self.num_layers}")
        if self.ensemble > MAX_ENSEMBLE:
            raise ConfigError(f"ensemble must be at most {MAX_ENSEMBLE}, got ensemble={self.ensemble}")
        for name in ("patience", "clip_norm", "weight_decay"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {name}={getattr(self, name)!r}")
        for name in ("momentum", "beta1", "beta2", "rho"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"{name} must be in [0, 1), got {name}={getattr(self, name)!r}")

    def optimizer_settings(self) -> dict[str, Any]:
        """The keyword arguments of make_optimizer for this optimizer."""
        specific = {"momentum": ("momentum", "nesterov"), "adam": ("beta1", "beta2"), "rmsprop": ("rho",)}
        out = {"lr": self.learning_rate, "weight_decay": self.weight_decay}
        out.update({k: getattr(self, k) for k in specific.get(self.optimizer, ())})
        return out


# What [search] may vary: the section each key belongs to, and the optimizer it is specific to.
SEARCHABLE: dict[str, tuple[str, str | None]] = {
    **{k: ("train", None) for k in ("learning_rate", "batch_size", "hidden_units", "activation", "optimizer",
                                    "cell", "num_layers", "clip_norm", "weight_decay", "epochs")},
    "momentum": ("train", "momentum"), "nesterov": ("train", "momentum"),
    "beta1": ("train", "adam"), "beta2": ("train", "adam"), "rho": ("train", "rmsprop"),
    **{k: ("data", None) for k in ("window", "log", "difference", "seasonal_difference", "normalise")},
}


@dataclass(frozen=True)
class Choice:
    """A list of values to choose from."""

    values: tuple

    def describe(self) -> str:
        return f"one of {list(self.values)}"


@dataclass(frozen=True)
class Range:
    """low..high, on a log scale if `log`; integers when low and high are both integers."""

    low: float
    high: float
    log: bool = False
    step: float | None = None

    @property
    def is_int(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int) and (self.step is None or
                                                                             isinstance(self.step, int))

    def describe(self) -> str:
        return f"{self.low}..{self.high}" + (" (log)" if self.log else "")


def _search_entry(key: str, value: Any) -> Choice | Range:
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"search.{key} is an empty list; give at least one value to choose from")
        if any(isinstance(v, (list, dict)) for v in value):
            raise ConfigError(f"search.{key} choices must be plain values, got {value!r}")
        return Choice(tuple(value))
    if isinstance(value, dict):
        unknown = set(value) - {"low", "high", "log", "step"}
        if unknown or not {"low", "high"} <= set(value):
            raise ConfigError(f"search.{key} must be a list of choices or a table {{low, high, log, step}}, "
                              f"got {value!r}")
        low, high = value["low"], value["high"]
        if not all(_type_ok(v, float) for v in (low, high)):
            raise ConfigError(f"search.{key}.low and .high must be finite numbers, got {value!r}")
        if low >= high:
            raise ConfigError(f"search.{key}.low must be below .high, got low={low!r} high={high!r}")
        log = value.get("log", False)
        if not isinstance(log, bool):
            raise ConfigError(f"search.{key}.log must be true or false, got log={log!r}")
        if log and low <= 0:
            raise ConfigError(f"search.{key} on a log scale needs low > 0, got low={low!r}")
        step = value.get("step")
        if step is not None:
            if not _type_ok(step, float) or step <= 0:
                raise ConfigError(f"search.{key}.step must be a positive finite number, got step={step!r}")
            if log:
                raise ConfigError(f"search.{key}: step and log = true cannot be combined (Optuna samples a log "
                                  f"scale continuously); drop one of them")
            if step > high - low:
                raise ConfigError(f"search.{key}.step={step!r} is larger than the range {low!r}..{high!r}; "
                                  f"lower the step")
        return Range(low, high, log, step)
    raise ConfigError(f"search.{key} must be a list of choices or a table {{low, high, log}}, got {value!r}")


def _check_search_values(key: str, entry: Choice | Range, train: TrainSpec, data: DataSpec) -> None:
    """Every value a search may produce must be valid in its section: try them through the spec."""
    section, _ = SEARCHABLE[key]
    base = train if section == "train" else data
    hint = typing.get_type_hints(type(base))[key]
    candidates = entry.values if isinstance(entry, Choice) else (entry.low, entry.high)
    if isinstance(entry, Range) and hint is int and not entry.is_int:
        raise ConfigError(f"search.{key} is a whole number: low and high must be integers, got "
                          f"{entry.low!r}..{entry.high!r}")
    for value in candidates:
        if not _type_ok(value, hint):
            raise ConfigError(f"search.{key} values must be {_type_name(hint)}, got {value!r}")
        try:
            dataclasses.replace(base, **{key: value})
        except TunerError as exc:
            raise type(exc)(f"search.{key}: {exc}") from None


@dataclass(frozen=True)
class StudySpec:
    """A whole study file."""

    name: str
    n_trials: int = 30
    timeout: float | None = None
    seed: int = 0
    sampler: str = "tpe"
    pruner: str = "median"
    startup_trials: int = 5  # the pruner compares against at least this many finished trials
    warmup_epochs: int = 5  # and never prunes in a fold's first epochs
    report_every: int = 5  # epochs between reports to the pruner (same steps in every trial)
    storage: str = ""
    heartbeat: int = 10  # seconds between a running trial's heartbeats; 0 turns stale-trial retry off
    grace_period: int = 30  # a trial silent this long belongs to a dead worker: failed, then queued again
    data: DataSpec = field(default_factory=DataSpec)
    cv: CVSpec = field(default_factory=CVSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    search: dict[str, Choice | Range] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)  # set in exported configs: where they came from
    path: str = ""  # the file it came from

    def __post_init__(self) -> None:
        one_of("sampler", self.sampler, SAMPLERS)
        one_of("pruner", self.pruner, PRUNERS)
        positive("n_trials", self.n_trials)
        positive("report_every", self.report_every)
        if self.timeout is not None:
            positive("timeout", self.timeout)
        for name in ("startup_trials", "warmup_epochs", "heartbeat", "grace_period"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {name}={getattr(self, name)!r}")
        if self.heartbeat and self.grace_period <= self.heartbeat:
            raise ConfigError(f"grace_period must be longer than heartbeat={self.heartbeat}, got "
                              f"grace_period={self.grace_period}")
        if not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"seed must be between 0 and {MAX_SEED} (NumPy and Optuna seeds are 32-bit), got "
                              f"seed={self.seed}")
        if not self.name or not all(c.isalnum() or c in "-_." for c in self.name):
            raise ConfigError(f"name must be letters, digits, '-', '_' or '.', got name={self.name!r}")

    def with_params(self, params: dict[str, Any]) -> StudySpec:
        """The fixed settings with a trial's searched values put in."""
        train = {k: v for k, v in params.items() if SEARCHABLE.get(k, ("",))[0] == "train"}
        data = {k: v for k, v in params.items() if SEARCHABLE.get(k, ("",))[0] == "data"}
        return dataclasses.replace(self, train=dataclasses.replace(self.train, **train),
                                   data=dataclasses.replace(self.data, **data))

    def storage_url(self, override: str | None = None) -> str:
        """The storage to use: --storage, else $TUNER_STORAGE, else the file's [study].storage, else the
        default beside the study file."""
        return override or os.environ.get(STORAGE_ENV) or self.storage or self.default_storage

    @property
    def default_storage(self) -> str:
        """Beside the study file: sqlite:///studies/<name>.db for studies/<name>.toml."""
        folder = Path(self.path).parent if self.path else Path(".")
        return f"sqlite:///{folder / (self.name + '.db')}"


SAMPLERS = ("tpe", "random", "qmc", "grid")
PRUNERS = ("median", "hyperband", "none")
SECTIONS = ("study", "data", "cv", "train", "search", "provenance")
STUDY_KEYS = [f.name for f in dataclasses.fields(StudySpec) if f.name not in SECTIONS + ("path",)]


def _plain(spec: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """A spec's fields as TOML-ready values: tuples as lists, None left out."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(spec).items()
            if v is not None and k not in skip}


def to_doc(spec: StudySpec) -> dict[str, Any]:
    """The study as the document a study file holds: study_from_dict(to_doc(s)) rebuilds s."""
    study = {k: getattr(spec, k) for k in STUDY_KEYS if getattr(spec, k) is not None}
    if study.get("storage"):  # documents are stored and written out: never with a password
        from .storage import mask

        study["storage"] = mask(study["storage"])
    doc: dict[str, Any] = {"study": study, "data": _plain(spec.data, skip=("seed",)), "cv": _plain(spec.cv),
                           "train": _plain(spec.train)}
    search = {}
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
        size = path.stat().st_size
        if size > MAX_STUDY_FILE:
            raise ConfigError(f"{path} is {size} bytes, too large for a study file (at most {MAX_STUDY_FILE}); "
                              f"is it the right file?")
        text = path.read_text()
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
    for key in doc:
        if key not in SECTIONS:
            raise ConfigError(f"unknown section [{key}]; the sections are: {', '.join(SECTIONS)}")
    study_table = doc.get("study", {})
    if isinstance(study_table, dict):
        study_table = {"name": Path(path).stem if path else "study", **study_table}
    study = check_table(StudySpec, study_table, "study", STUDY_KEYS)
    seed = study.get("seed", 0)
    data_table = doc.get("data", {})
    data = from_table(DataSpec, {"seed": seed, **data_table} if isinstance(data_table, dict) else data_table, "data")
    cv = from_table(CVSpec, doc.get("cv", {}), "cv")
    train = from_table(TrainSpec, doc.get("train", {}), "train")
    search_table = doc.get("search", {})
    if not isinstance(search_table, dict):
        raise ConfigError("[search] must be a table")
    search = {}
    for key, value in search_table.items():
        if key not in SEARCHABLE:
            raise ConfigError(f"search.{key} cannot be searched; searchable keys: {', '.join(SEARCHABLE)}")
        search[key] = _search_entry(key, value)
        _check_search_values(key, search[key], train, data)
    provenance = doc.get("provenance", {})
    if not isinstance(provenance, dict):
        raise ConfigError("[provenance] must be a table")
    spec = build(StudySpec, study, "study", data=data, cv=cv, train=train, search=search, provenance=provenance,
                 path=str(path))
    if spec.sampler == "grid" and any(isinstance(e, Range) for e in search.values()):
        raise ConfigError("sampler = \"grid\" needs every [search] entry to be a list of choices")
    return spec


__all__ = ["SEARCHABLE", "CVSpec", "Choice", "DataSpec", "Range", "StudySpec", "TrainSpec", "from_table",
           "load_study", "study_from_dict", "to_doc"]
