"""Optuna samplers and pruners by name: the registries that [study] `sampler` and `pruner` choose from.

A builder takes the study spec and (samplers) the seed of this worker's stream. Optuna is imported inside
the builders, so the study-file check that reads these names stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .spec import StudySpec


def _tpe(spec: StudySpec, seed: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(seed=seed)


def _random(spec: StudySpec, seed: int) -> Any:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


def _qmc(spec: StudySpec, seed: int) -> Any:
    import optuna

    return optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False)


def _grid(spec: StudySpec, seed: int) -> Any:
    import optuna

    from .space import Choice

    space = {k: list(e.values) for k, e in spec.search.items() if isinstance(e, Choice)}
    return optuna.samplers.GridSampler(space, seed=seed)


def _median(spec: StudySpec) -> Any:
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=spec.startup_trials, n_warmup_steps=spec.warmup_epochs)


def _hyperband(spec: StudySpec) -> Any:
    import optuna

    return optuna.pruners.HyperbandPruner(min_resource=max(1, spec.warmup_epochs), max_resource=spec.max_epochs)


def _none(spec: StudySpec) -> Any:
    import optuna

    return optuna.pruners.NopPruner()


SAMPLERS: dict[str, Callable[[StudySpec, int], Any]] = {"tpe": _tpe, "random": _random, "qmc": _qmc, "grid": _grid}
PRUNERS: dict[str, Callable[[StudySpec], Any]] = {"median": _median, "hyperband": _hyperband, "none": _none}
