"""The rules of a study: frozen dataclasses for [study], [data], [cv] and [train], validated once when built.

Each spec checks the type of every key against its annotation (check_table), then its own rules in
__post_init__; every error names the key, the value received and what would be valid. No file input or output
here (studyfile.py) and nothing heavy is imported: a one-line error for a study file costs no pandas.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.datasets import DATASETS
from ..data.metrics import METRICS
from ..errors import ConfigError, DataError
from .rules import one_of, positive
from .samplers import PRUNERS, SAMPLERS
from .space import Choice, Range

SCHEMES = ("auto", "time", "kfold")
MISSING = ("error", "interpolate", "drop")
NORMALISE = ("none", "last")
# statistical models a study may be compared with ([study] compare, tuner train --combine) -> statsforecast's name
STATISTICAL = {"ets": "AutoETS", "theta": "AutoTheta", "arima": "AutoARIMA"}


def searchable(default: Any) -> Any:
    """A [data] field that [search] may vary (a window or a transform). Every [train] field is searchable
    unless marked otherwise; search.py reads these marks."""
    return field(default=default, metadata={"searchable": True})


def _names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


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
    series: str = ""  # the id column of a long table of many series (unique_id, ds, y): one global model
    min_length: int = 0  # series with fewer rows are left out (said once); 0: every series must fit
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
    window: int = searchable(12)
    horizon: int = 1
    stride: int = 1
    # transforms for trending series (each may also be searched in [search])
    log: bool = searchable(False)
    difference: int = searchable(0)  # 1: model the first difference
    seasonal_difference: int = searchable(0)  # m > 0: also difference at lag m (12 for monthly data)
    normalise: str = searchable("none")  # "last": each window relative to its last value
    season: int = 0  # the seasonal-naive baseline's season (12 for monthly data); default: seasonal_difference
    seed: int = 0  # for synthetic data; set from the study's seed

    def __post_init__(self) -> None:
        for name in ("target", "features"):  # a list from Python callers: frozen specs are hashed
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.dataset not in DATASETS:
            raise DataError(f"dataset must be one of {', '.join(sorted(DATASETS))}; got dataset={self.dataset!r}")
        csv_only = [k for k in ("path", "target", "features", "time", "series", "min_length") if getattr(self, k)]
        if not DATASETS[self.dataset].reads_file and csv_only:
            raise ConfigError(f"dataset={self.dataset!r} reads no file, but {', '.join(csv_only)} "
                              f"{'is' if len(csv_only) == 1 else 'are'} set: set dataset = \"csv\" to read "
                              f"the file, or remove {'it' if len(csv_only) == 1 else 'them'}")
        one_of("missing", self.missing, MISSING)
        one_of("normalise", self.normalise, NORMALISE)
        one_of("difference", self.difference, (0, 1))
        for name in ("window", "horizon", "stride", "n_points", "length"):
            positive(name, getattr(self, name))
        if self.noise < 0:
            raise ConfigError(f"noise must be >= 0, got noise={self.noise!r}")
        if not 0 < self.test_fraction < 1:
            raise ConfigError(f"test_fraction must be between 0 and 1, got test_fraction={self.test_fraction!r}")
        for name in ("test_size", "seasonal_difference", "season", "min_length"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {name}={getattr(self, name)!r}")
        if self.seasonal_difference and self.horizon > self.seasonal_difference:
            raise ConfigError(f"horizon must be at most seasonal_difference={self.seasonal_difference} to undo "
                              f"the seasonal difference, got horizon={self.horizon}")

    def keys_that_apply(self) -> set[str]:
        """The [data] keys this dataset reads (an exported config carries only these)."""
        return set(DATASETS[self.dataset].keys)

    @property
    def baseline_season(self) -> int:
        """The season of the seasonal-naive baseline (0: none)."""
        return self.season or self.seasonal_difference

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
    # early stopping: epochs without a better validation score; 0 turns it off
    patience: int = field(default=10, metadata={"searchable": False})
    clip_norm: float = 1.0  # gradient clipping by global norm; 0 turns it off
    weight_decay: float = 0.0
    # a linear term on the last `highway` inputs beside the recurrence (at most the window; 0: off)
    highway: int = 0
    dtype: str = field(default="float32", metadata={"searchable": False})
    ensemble: int = field(default=1, metadata={"searchable": False})  # models per fold (and in the final
    # model) whose mean prediction is scored: part of what a trial's value means, so never searched
    # optimizer-specific settings, used only by their optimizer
    momentum: float = 0.9
    nesterov: bool = False
    beta1: float = 0.9
    beta2: float = 0.999
    rho: float = 0.9

    def __post_init__(self) -> None:
        from ..nn import ACTIVATIONS, CELLS, OPTIMIZERS
        from ..nn.model import DTYPES, MAX_LAYERS

        for name, registry in (("cell", CELLS), ("activation", ACTIVATIONS), ("optimizer", OPTIMIZERS)):
            one_of(name, getattr(self, name), sorted(registry))
        one_of("dtype", self.dtype, DTYPES)
        for name in ("hidden_units", "learning_rate", "batch_size", "epochs", "num_layers", "ensemble"):
            positive(name, getattr(self, name))
        if self.num_layers > MAX_LAYERS:
            raise ConfigError(f"num_layers must be at most {MAX_LAYERS}, got num_layers={self.num_layers}")
        if self.ensemble > MAX_ENSEMBLE:
            raise ConfigError(f"ensemble must be at most {MAX_ENSEMBLE}, got ensemble={self.ensemble}")
        for name in ("patience", "clip_norm", "weight_decay", "highway"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {name}={getattr(self, name)!r}")
        for name in ("momentum", "beta1", "beta2", "rho"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"{name} must be in [0, 1), got {name}={getattr(self, name)!r}")

    def optimizer_settings(self) -> dict[str, Any]:
        """The keyword arguments of make_optimizer for this optimizer: the learning rate, and every other
        argument of its constructor that is a field here (read from the signature, so a new optimizer's
        settings reach it without a list to keep in step)."""
        from ..nn.optimizers import optimizer_settings

        fields = {f.name for f in dataclasses.fields(self)}
        out = {"lr": self.learning_rate}
        out.update({k: getattr(self, k) for k in optimizer_settings(self.optimizer) if k in fields})
        return out


@dataclass(frozen=True)
class StudySpec:
    """A whole study file."""

    name: str
    n_trials: int = 30
    timeout: float | None = None
    seed: int = field(default=0, metadata={"meaning": True})  # [study] keys a trial's value depends on
    metric: str = field(default="mse", metadata={"meaning": True})  # what trials minimise (data/metrics.py)
    sampler: str = "tpe"
    pruner: str = "median"
    startup_trials: int = 5  # the pruner compares against at least this many finished trials
    warmup_epochs: int = 5  # and never prunes in a fold's first epochs
    report_every: int = 5  # epochs between reports to the pruner (same steps in every trial)
    storage: str = ""
    heartbeat: int = 10  # seconds between a running trial's heartbeats; 0 turns stale-trial retry off
    grace_period: int = 30  # a trial silent this long belongs to a dead worker: failed, then queued again
    compare: tuple[str, ...] = ()  # statistical models scored beside the baselines (STATISTICAL; tuner[stats])
    data: DataSpec = field(default_factory=DataSpec)
    cv: CVSpec = field(default_factory=CVSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    search: dict[str, Choice | Range] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)  # set in exported configs: where they came from
    path: str = ""  # the file it came from

    def __post_init__(self) -> None:
        one_of("sampler", self.sampler, SAMPLERS)
        one_of("pruner", self.pruner, PRUNERS)
        one_of("metric", self.metric, METRICS)
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
        for name in self.compare:
            one_of("compare", name, STATISTICAL)
        if not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"seed must be between 0 and {MAX_SEED} (NumPy and Optuna seeds are 32-bit), got "
                              f"seed={self.seed}")
        if not self.name or not all(c.isalnum() or c in "-_." for c in self.name):
            raise ConfigError(f"name must be letters, digits, '-', '_' or '.', got name={self.name!r}")

    def with_params(self, params: dict[str, Any]) -> StudySpec:
        """The fixed settings with a trial's searched values put in, each in the section that has its field."""
        train = {k: v for k, v in params.items() if k in _names(TrainSpec)}
        data = {k: v for k, v in params.items() if k in _names(DataSpec)}
        return dataclasses.replace(self, train=dataclasses.replace(self.train, **train),
                                   data=dataclasses.replace(self.data, **data))

    @property
    def max_epochs(self) -> int:
        """The most epochs any trial may train: the last step a trial reports to the pruner."""
        searched = self.search.get("epochs")
        if isinstance(searched, Choice):
            return int(max(searched.values))
        return int(searched.high) if isinstance(searched, Range) else self.train.epochs

    def storage_url(self, override: str | None = None) -> str:
        """The storage to use: --storage, else $TUNER_STORAGE, else the file's [study].storage, else the
        default beside the study file."""
        return override or os.environ.get(STORAGE_ENV) or self.storage or self.default_storage

    @property
    def default_storage(self) -> str:
        """Beside the study file: sqlite:///studies/<name>.db for studies/<name>.toml (and for a spec that
        came from a study's record rather than a file)."""
        folder = Path(self.path).parent if self.path else Path("studies")
        return f"sqlite:///{folder / (self.name + '.db')}"


SECTIONS = ("study", "data", "cv", "train", "search", "provenance")
STUDY_KEYS = [f.name for f in dataclasses.fields(StudySpec) if f.name not in SECTIONS + ("path",)]
# the [study] keys that say how a study runs, not what its values mean (a field marks meaning where it has one)
RUN_KEYS = [f.name for f in dataclasses.fields(StudySpec) if f.name in STUDY_KEYS and not f.metadata.get("meaning")]
