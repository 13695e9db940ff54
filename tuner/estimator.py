"""The engine as a scikit-learn estimator: RNNRegressor works in a Pipeline, cross_val_score, GridSearchCV and
Optuna's OptunaSearchCV, and passes scikit-learn's own estimator checks (tests/test_estimator.py).

    from tuner.estimator import RNNRegressor
    model = RNNRegressor(cell="gru", hidden_units=16, epochs=200, random_state=0).fit(X, y)

Its parameters are a study's [train] keys (the same names, the same meaning) plus how a row of X becomes a
sequence: a 2-D X of lag values is a univariate sequence (`n_steps=None`: each column one step, oldest
first), `n_steps=T` reads each row as T steps of n_features / T values, and a 3-D X (samples, steps,
features) is taken as it is. y is standardised inside (and predictions mapped back), as the study's data
is: the network never sees targets in the hundreds. With `patience`, the last `validation_fraction` of the
rows (the latest, for time-ordered data) is held out for early stopping.

Saved without pickle: `save(folder)` writes the members' weights (.npz) and a JSON of the parameters and
scaling; `RNNRegressor.load(folder)` reads them back (pickling works too, as scikit-learn expects).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .config.spec import TrainSpec
from .data.csv import LARGEST
from .errors import ConfigError
from .limits import check_fits
from .nn import SequenceModel, make_optimizer
from .nn.io import read_json
from .nn.sizes import trial_bytes
from .nn.stack import Stack
from .train.factory import start_linear
from .train.trainer import fit_stack

FORMAT = "tuner.RNNRegressor/1"


# A study's [train] defaults (TrainSpec) are the estimator's, but for these, each for a reason:
OWN_DEFAULTS = {
    "patience": 0,  # no rows held out unless asked: a scikit-learn estimator fits on all of X
    "dtype": "float64",  # scikit-learn's checks compare predictions to float64 precision
    "learning_rate": 0.01,  # measured (bench/estimator.py): 0.001 left sunspots' CV MSE 1.14-1.50x ridge's
}
TRAIN_KEYS = tuple(f.name for f in dataclasses.fields(TrainSpec))
_D: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(TrainSpec)} | OWN_DEFAULTS


class RNNRegressor(RegressorMixin, BaseEstimator):
    """A recurrent network regressor (rnn, lstm or gru) trained by exact BPTT; `ensemble` members with their
    own seeds are trained as one stack and averaged. See the module docstring for how X becomes sequences."""

    def __init__(self, *, cell: str = _D["cell"], hidden_units: int = _D["hidden_units"],
                 num_layers: int = _D["num_layers"], activation: str = _D["activation"],
                 optimizer: str = _D["optimizer"], learning_rate: float = _D["learning_rate"],
                 batch_size: int = _D["batch_size"], epochs: int = _D["epochs"], patience: int = _D["patience"],
                 validation_fraction: float = 0.1, clip_norm: float = _D["clip_norm"],
                 weight_decay: float = _D["weight_decay"], highway: int = _D["highway"], dtype: str = _D["dtype"],
                 ensemble: int = _D["ensemble"], momentum: float = _D["momentum"], nesterov: bool = _D["nesterov"],
                 beta1: float = _D["beta1"], beta2: float = _D["beta2"], rho: float = _D["rho"],
                 n_steps: int | None = None, random_state: Any = None, warm_start: bool = False):
        self.cell = cell
        self.hidden_units = hidden_units
        self.num_layers = num_layers
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.clip_norm = clip_norm
        self.weight_decay = weight_decay
        self.highway = highway
        self.dtype = dtype
        self.ensemble = ensemble
        self.momentum = momentum
        self.nesterov = nesterov
        self.beta1 = beta1
        self.beta2 = beta2
        self.rho = rho
        self.n_steps = n_steps
        self.random_state = random_state
        self.warm_start = warm_start

    TRAIN_KEYS = TRAIN_KEYS  # the parameters that are a study's [train] keys

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.three_d_array = True  # (samples, steps, features) is taken as it is
        return tags

    # ---------------------------------------------------------------- the parameters, checked where used

    def _train_spec(self) -> TrainSpec:
        """The parameters as a study's [train] table: the same rules, the same messages."""
        return TrainSpec(**{k: getattr(self, k) for k in self.TRAIN_KEYS})

    def _sequences(self, X: np.ndarray) -> np.ndarray:
        """X as (samples, steps, features)."""
        if X.ndim == 3:
            return X
        if self.n_steps is None:
            return X[:, :, None]  # a row of lags: one value per step
        steps = self.n_steps
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1 or X.shape[1] % steps:
            raise ValueError(f"n_steps must be a positive integer that divides the {X.shape[1]} features of X, "
                             f"got n_steps={steps!r}")
        return X.reshape(len(X), steps, X.shape[1] // steps)

    # ---------------------------------------------------------------- fit and predict

    def fit(self, X: Any, y: Any) -> RNNRegressor:
        cfg = self._train_spec()
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be between 0 and 1, got {self.validation_fraction!r}")
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, allow_nd=True,
                             dtype=[np.float64, np.float32])
        if X.ndim > 3:
            raise ValueError(f"X must have 2 dimensions (samples, lag values) or 3 (samples, steps, features), got "
                             f"{X.ndim}")
        x = self._sequences(X)
        y2 = np.asarray(y, dtype=float).reshape(len(y), -1)
        _refuse_huge(x, y2, cfg.dtype)
        self._y_1d = np.ndim(y) == 1
        self.n_outputs_ = y2.shape[1]
        self.y_mean_ = y2.mean(axis=0)
        scale = y2.std(axis=0)
        self.y_scale_ = np.where(scale > 0, scale, 1.0)
        target = (y2 - self.y_mean_) / self.y_scale_

        n_val = int(round(self.validation_fraction * len(x))) if cfg.patience else 0
        if n_val >= len(x):  # too few rows to hold any out: train on all, without early stopping
            n_val = 0
        x_fit, y_fit = x[: len(x) - n_val], target[: len(x) - n_val]
        # the command line's size check, before any model exists: a typo must be one error, not a MemoryError
        check_fits(f"fitting {cfg.ensemble} {cfg.cell} model(s) with hidden_units={cfg.hidden_units}",
                   trial_bytes(cfg.cell, x.shape[2], cfg.hidden_units, y2.shape[1], cfg.num_layers, cfg.dtype,
                               x.shape[1], min(cfg.batch_size, len(x_fit)), max(n_val, 1), cfg.ensemble),
                   "lower hidden_units, num_layers, batch_size or ensemble")
        seeds = [int(s) for s in check_random_state(self.random_state).randint(0, 2**31 - 1, size=cfg.ensemble)]
        models = self._models(cfg, x_fit, y_fit, seeds)
        stack = Stack(models)
        validate = None
        if n_val:
            x_val, y_val = x[len(x) - n_val :], target[len(x) - n_val :]
            validate = [(x_val, lambda pred: float(np.mean((pred - y_val) ** 2)))] * cfg.ensemble
        results = fit_stack(stack, make_optimizer(cfg.optimizer, **cfg.optimizer_settings()),
                            [(x_fit, y_fit)] * cfg.ensemble, epochs=cfg.epochs, batch_size=cfg.batch_size,
                            seeds=seeds, clip_norm=cfg.clip_norm or None, patience=cfg.patience if n_val else None,
                            validate=validate)
        self.members_ = [stack.member(k) for k in range(cfg.ensemble)]
        self.loss_curve_ = results[0].train_loss
        self.validation_scores_ = results[0].val_loss
        self.n_epochs_ = results[0].epochs_run
        self.best_epoch_ = results[0].best_epoch
        return self

    def _models(self, cfg: TrainSpec, x: np.ndarray, y: np.ndarray, seeds: list[int]) -> list[SequenceModel]:
        """Fresh seeded models; with warm_start, the fitted ones when they fit this data."""
        if self.warm_start and hasattr(self, "members_"):
            old = self.members_
            same = (len(old) == len(seeds) and old[0].input_size == x.shape[2] and old[0].output_size == y.shape[1]
                    and old[0].hidden_size == cfg.hidden_units and old[0].cell == cfg.cell)
            if same:
                return [_copy(m) for m in old]
        models = []
        for seed in seeds:
            model = SequenceModel(cfg.cell, x.shape[2], cfg.hidden_units, y.shape[1], activation=cfg.activation,
                                  num_layers=cfg.num_layers, seed=seed, dtype=cfg.dtype,
                                  highway=min(cfg.highway, x.shape[1]))
            if model.highway:
                start_linear(model, x, y)
            models.append(model)
        return models

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "members_")
        X = validate_data(self, X, reset=False, allow_nd=True, dtype=[np.float64, np.float32])
        x = self._sequences(X)
        pred = np.mean([m.predict(x) for m in self.members_], axis=0).astype(np.float64)
        pred = pred * self.y_scale_ + self.y_mean_
        return pred[:, 0] if self._y_1d else pred

    # ---------------------------------------------------------------- persistence without pickle

    def save(self, folder: str | Path) -> Path:
        """Write folder/estimator.json (parameters, scaling, what was fitted) and folder/member-K.npz."""
        check_is_fitted(self, "members_")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for k, member in enumerate(self.members_):
            member.save(folder / f"member-{k}")
        fitted = {"n_features_in_": int(self.n_features_in_), "n_outputs_": int(self.n_outputs_),
                  "y_mean_": self.y_mean_.tolist(), "y_scale_": self.y_scale_.tolist(), "y_1d": bool(self._y_1d),
                  "n_epochs_": int(self.n_epochs_), "best_epoch_": int(self.best_epoch_)}
        if hasattr(self, "feature_names_in_"):
            fitted["feature_names_in_"] = [str(n) for n in self.feature_names_in_]
        params = {k: v for k, v in self.get_params().items() if k != "random_state" or isinstance(v, (int, type(None)))}
        meta = {"format": FORMAT, "params": params, "fitted": fitted, "members": len(self.members_)}
        (folder / "estimator.json").write_text(json.dumps(meta, indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> RNNRegressor:
        """Read what save wrote; a damaged or foreign folder is one ConfigError."""
        folder = Path(folder)
        meta = read_json(folder / "estimator.json")
        members = meta.get("members")
        if meta.get("format") != FORMAT or not isinstance(meta.get("params"), dict) or \
                not isinstance(meta.get("fitted"), dict) or not isinstance(members, int) or not 0 < members <= 100:
            raise ConfigError(f"{folder / 'estimator.json'} is not a saved RNNRegressor; save one with .save()")
        try:
            est = cls(**meta["params"])
            fitted = meta["fitted"]
            est.members_ = [SequenceModel.load(folder / f"member-{k}") for k in range(members)]
            est.n_features_in_ = int(fitted["n_features_in_"])
            est.n_outputs_ = int(fitted["n_outputs_"])
            est.y_mean_ = np.asarray(fitted["y_mean_"], dtype=float)
            est.y_scale_ = np.asarray(fitted["y_scale_"], dtype=float)
            est._y_1d = bool(fitted["y_1d"])
            est.n_epochs_, est.best_epoch_ = int(fitted["n_epochs_"]), int(fitted["best_epoch_"])
            if "feature_names_in_" in fitted:
                est.feature_names_in_ = np.asarray(fitted["feature_names_in_"], dtype=object)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{folder / 'estimator.json'} is damaged ({exc}); save the estimator again") from None
        return est


def _copy(model: SequenceModel) -> SequenceModel:
    """A model with its own copy of another's weights (warm start: the fitted members keep theirs)."""
    out = SequenceModel.__new__(SequenceModel)
    out._configure(**model.config)
    out.params = {k: v.copy() for k, v in model.params.items()}
    return out


def from_config(path: str | Path) -> RNNRegressor:
    """The estimator a config exported by `tuner export` describes: its [train] settings and seed; the
    sequences are its windows (2-D rows of `window` lag values, or 3-D with features)."""
    from .config.studyfile import load_study

    spec = load_study(path)
    params = {k: getattr(spec.train, k) for k in RNNRegressor.TRAIN_KEYS}
    return RNNRegressor(**params, random_state=spec.seed)


__all__ = ["RNNRegressor", "from_config"]


def _refuse_huge(x: np.ndarray, y: np.ndarray, dtype: str) -> None:
    """Values whose squares overflow are refused at the boundary, naming where: y's variance in float64, x's
    products in the model's dtype would be inf, and the model would predict inf without a word."""
    for name, values, limit in (("X", x, np.sqrt(np.finfo(dtype).max)), ("y", y, LARGEST)):
        huge = np.abs(values) > limit
        if huge.any():
            index = np.unravel_index(int(np.argmax(huge)), values.shape)
            fix = "a StandardScaler before it in a pipeline" if name == "X" else "divide y by its scale"
            raise ValueError(f"{name} holds {values[index]:g} (sample {index[0]}), whose square overflows "
                             f"{dtype if name == 'X' else 'float64'}; rescale it ({fix})")

