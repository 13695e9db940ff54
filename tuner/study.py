"""Sampler, pruner and storage from a study spec; run or resume a study; summarise it.

The storage is plain Optuna storage, so `optuna studies --storage URL` and optuna-dashboard read it.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from .config import Choice, StudySpec, to_doc
from .errors import ConfigError, TunerError
from .objective import Objective, standard_error

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
SQLITE_LOCK_TIMEOUT = 60  # seconds a writer waits for another's lock before SQLite says "database is locked"


def mask(url: str) -> str:
    """The storage URL without its password, for printing."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a SQLAlchemy URL: nothing we know how to hide
        return url


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """An Optuna RDB storage; SQLite files get a lock timeout and their folder is created."""
    engine_kwargs: dict = {}
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs = {"connect_args": {"timeout": SQLITE_LOCK_TIMEOUT}}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
    except Exception as exc:  # SQLAlchemy raises many kinds; each is a storage the user must fix
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot open storage {mask(url)}: {reason}") from None


def make_sampler(spec: StudySpec) -> optuna.samplers.BaseSampler:
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=spec.seed)
    if spec.sampler == "qmc":
        return optuna.samplers.QMCSampler(seed=spec.seed, scramble=True, warn_independent_sampling=False)
    if spec.sampler == "grid":
        space = {k: list(e.values) for k, e in spec.search.items() if isinstance(e, Choice)}
        return optuna.samplers.GridSampler(space, seed=spec.seed)
    return optuna.samplers.TPESampler(seed=spec.seed)


def make_pruner(spec: StudySpec) -> optuna.pruners.BasePruner:
    if spec.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=spec.startup_trials, n_warmup_steps=spec.warmup_epochs)
    if spec.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, spec.warmup_epochs),
                                              max_resource=spec.cv.folds * spec.train.epochs)
    return optuna.pruners.NopPruner()


def open_study(spec: StudySpec, storage: str | None = None) -> optuna.Study:
    url = storage or spec.storage or spec.default_storage
    return optuna.create_study(study_name=spec.name, storage=open_storage(url), sampler=make_sampler(spec),
                               pruner=make_pruner(spec), direction="minimize", load_if_exists=True)


def finished(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


class RecordErrors:
    """Wraps the objective: an unexpected error ends its trial as FAIL with the error stored on the trial
    (Optuna only logs it), and the study goes on."""

    def __init__(self, objective: Objective):
        self.objective = objective

    def __call__(self, trial: optuna.Trial) -> float:
        try:
            return self.objective(trial)
        except optuna.TrialPruned:
            raise
        except Exception as exc:
            if "fail_reason" not in trial.user_attrs:
                where = traceback.extract_tb(exc.__traceback__)[-1]
                trial.set_user_attr("fail_reason", f"{type(exc).__name__}: {exc} ({Path(where.filename).name}:"
                                                   f"{where.lineno})")
            raise


class Progress:
    """A tqdm bar over the study's total: trials done / target, best so far, elapsed."""

    def __init__(self, study: optuna.Study, target: int, enabled: bool = True):
        from tqdm import tqdm

        self.bar = tqdm(total=target, initial=finished(study), desc=study.study_name, unit="trial",
                        disable=not enabled, file=sys.stderr, dynamic_ncols=True)
        self._best(study)

    def _best(self, study: optuna.Study) -> None:
        try:
            self.bar.set_postfix_str(f"best {study.best_value:.5g}")
        except ValueError:  # no complete trial yet
            pass

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.bar.update(1)
        self._best(study)

    def close(self) -> None:
        self.bar.close()


@dataclass
class RunResult:
    study: optuna.Study
    spec: StudySpec
    storage: str
    seconds: float
    ran: int


def run(spec: StudySpec, n_trials: int | None = None, storage: str | None = None, timeout: float | None = None,
        progress: bool = True) -> RunResult:
    """Run the study until it holds n_trials finished trials (the total, not another n): a rerun resumes."""
    target = n_trials or spec.n_trials
    objective = Objective(spec)
    objective.data(spec.data)  # bad data fails here, before any storage is touched
    url = storage or spec.storage or spec.default_storage
    study = open_study(spec, url)
    study.set_user_attr("spec", to_doc(spec))  # so export, trials and report work from the study name alone
    study.set_user_attr("spec_path", spec.path)
    remaining = target - finished(study)
    started = time.perf_counter()
    if remaining > 0:
        bar = Progress(study, target, progress)
        try:
            study.optimize(RecordErrors(objective), n_trials=remaining, timeout=timeout or spec.timeout,
                           catch=(Exception,), callbacks=[bar], gc_after_trial=False)
        finally:
            bar.close()
    return RunResult(study, spec, url, time.perf_counter() - started, max(remaining, 0))


def summary(result: RunResult) -> str:
    """What a user wants to see at the end: best trial with its error bar, baselines, where things are."""
    study, spec = result.study, result.spec
    trials = study.get_trials(deepcopy=False)
    states = Counter(t.state.name for t in trials)
    lines = [f"study {spec.name!r}: {len(trials)} trials ("
             + ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items())) + f"), this run {result.ran} in "
             f"{result.seconds:.1f}s"]
    reasons = Counter(t.user_attrs.get("fail_reason", "unknown").split(":")[0] if ":" in
                      t.user_attrs.get("fail_reason", "") else t.user_attrs.get("fail_reason", "unknown")
                      for t in trials if t.state == TrialState.FAIL)
    for reason, n in reasons.most_common():
        lines.append(f"  failed: {n} x {reason}")
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        lines.append("no complete trial yet: nothing to report")
        return "\n".join(lines)
    best = study.best_trial
    folds = best.user_attrs.get("fold_mse", [])
    lines.append(f"best: trial {best.number}, validation MSE {best.value:.5g} ± {best.user_attrs.get('mse_sem', 0):.2g}"
                 f" (mean ± standard error over {len(folds)} folds, original units)")
    lines.append("  params: " + ", ".join(f"{k}={_fmt(v)}" for k, v in best.params.items()))
    lines.append("  per fold: " + ", ".join(f"{v:.5g}" for v in folds))
    baselines = best.user_attrs.get("baselines", {})
    for name, values in baselines.items():
        mean = float(np.mean(values))
        verdict = "RNN better" if best.value < mean else "baseline better"
        lines.append(f"  baseline {name:<11} {mean:.5g} ± {standard_error(values):.2g}   ({verdict})")
    url = mask(result.storage)
    study_file = spec.path or f"studies/{spec.name}.toml"
    lines += [f"storage: {url}",
              f"dashboard: optuna-dashboard {url}",
              f"export: tuner export {study_file} -o best.toml"]
    return "\n".join(lines)


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


__all__ = ["RunResult", "TunerError", "finished", "mask", "open_storage", "open_study", "run", "summary"]
