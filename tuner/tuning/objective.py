"""The Optuna objective: draws a trial's values (search.suggest), cross-validates them (evaluate/cv.py, every fold and
ensemble member as one stack) and reports to the pruner after each epoch; with search.py, the only code that
talks to optuna.Trial.

A trial suggests its parameters, then trains a fresh seeded model for every fold (and ensemble member), all
folds advancing together, and returns the mean validation MSE in original units. At step = epoch it reports
the mean over folds of each fold's validation MSE so far (evaluate/cv.py says exactly which): a step means the same
epoch in every trial, and the pruner sees every fold from the first epoch on, not fold 0 alone.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Callable

import optuna

from ..config.search import suggest
from ..config.space import Choice
from ..config.spec import DataSpec, StudySpec, TrainSpec
from ..data import statistical
from ..data.prepare import Prepared, prepare
from ..errors import DataError, DivergenceError, Interrupted, ParamsError, TooLarge
from ..evaluate.cv import cross_validate
from ..limits import check_fits
from ..train.factory import config_bytes

# bytes of prepared data settings a worker keeps beyond the one in use: a series' settings fit many times over; a
# large panel's are prepared again (M3 monthly: 2 s against a trial's 20, and a cache holding them took a worker
# from 0.86 to 1.44 GB)
DATA_CACHE = 64 << 20


class Objective:
    """Callable for study.optimize. Data is prepared once per distinct data setting and reused."""

    def __init__(self, spec: StudySpec, should_stop: Callable[[], bool] = lambda: False):
        self.spec = spec
        self.should_stop = should_stop
        self._data: OrderedDict[DataSpec, Prepared] = OrderedDict()  # the most recently used last
        self._baselines: dict[DataSpec, dict[str, list[float]]] = {}

    def check(self) -> None:
        """Before any trial: the data loads and windows, and the smallest model the search can draw fits."""
        prepared = self.data(self.spec.data)
        smallest: dict[str, int] = {}
        for key in ("hidden_units", "batch_size", "num_layers"):
            entry = self.spec.search.get(key)
            if entry is not None:
                smallest[key] = int(min(entry.values) if isinstance(entry, Choice) else entry.low)
        train = self.spec.train
        cfg = dataclasses.replace(train, hidden_units=smallest.get("hidden_units", train.hidden_units),
                                  batch_size=smallest.get("batch_size", train.batch_size),
                                  num_layers=smallest.get("num_layers", train.num_layers))
        fixed = ", ".join(f"{k}={getattr(cfg, k)}" for k in ("hidden_units", "batch_size", "num_layers"))
        check_fits(f"the smallest trial ({fixed})", self.trial_bytes(cfg, prepared),
                   "lower hidden_units, batch_size or num_layers (or their [search] ranges)")
        if self.spec.compare:  # fitted by the first trial's baselines (or by run, before forking its workers)
            statistical.check_use({"[study] compare": self.spec.compare}, prepared.windows is not None,
                                  prepared.y_orig.shape[1] // self.spec.data.horizon)
            windows = sum(len(va) for _, va in prepared.folds)
            if windows > statistical.MAX_FITS:
                raise DataError(f"[study] compare would refit {', '.join(self.spec.compare)} at each of {windows} "
                                f"validation windows (at most {statistical.MAX_FITS}); leave compare out")

    def trial_bytes(self, cfg: TrainSpec, prepared: Prepared) -> int:
        """Estimated bytes one trial of this config needs: every fold and member as one stack."""
        n_eval = max(len(va) for _, va in prepared.folds)
        return config_bytes(cfg, prepared, n_eval, len(prepared.folds) * cfg.ensemble)

    def data(self, data_spec: DataSpec) -> Prepared:
        """The prepared data of a data setting, from a cache of the most recently used ones: as many as fit in
        DATA_CACHE bytes (a searched window of a large panel prepares again rather than hold a copy of the panel
        per window; one series' settings all fit)."""
        if data_spec not in self._data:  # room first for one more the size of the largest held: never two panels
            self._evict(max((p.nbytes for p in self._data.values()), default=0), keep=0)
            self._data[data_spec] = prepare(data_spec, self.spec.cv, self.spec.seed)
        self._data.move_to_end(data_spec)
        self._evict(0, keep=1)
        return self._data[data_spec]

    def _evict(self, room: int, keep: int) -> None:
        """Drop the least recently used settings until `room` more bytes fit within DATA_CACHE (or `keep` remain)."""
        while len(self._data) > keep and sum(p.nbytes for p in self._data.values()) + room > DATA_CACHE:
            self._data.popitem(last=False)

    def baselines(self) -> dict[str, list[float]]:
        """Per-fold validation MSE of each baseline: one definition per study, the same for every trial (the
        study's [data] as written, its window and transforms, not a trial's searched values)."""
        data_spec = self.spec.data
        if data_spec not in self._baselines:
            prepared = self.data(data_spec)
            per_fold = [self._fold_baselines(prepared, i) for i in range(len(prepared.folds))]
            metric = self.spec.metric  # scored as the trials are
            self._baselines[data_spec] = {name: [fold[name][metric] for fold in per_fold] for name in per_fold[0]}
        return self._baselines[data_spec]

    def _fold_baselines(self, prepared: Prepared, i: int) -> dict[str, dict[str, float]]:
        """Fold i's baselines, with the study's statistical models (`compare`) refitted at each validation window."""
        split, season = prepared.fold(i), self.spec.data.baseline_season
        shown = split.baseline_forecasts(season)
        if self.spec.compare:
            idx = prepared.train_idx[prepared.folds[i][1]]
            shown.update(statistical.as_baselines(self.spec.compare, prepared.windows, idx, self.spec.data.horizon,
                                                  season, shown, "leave [study] compare out: its models are "
                                                  "refitted at every validation window"))
        return split.baselines(forecasts=shown)

    def __call__(self, trial: optuna.Trial) -> float:
        params = suggest(trial, self.spec)
        spec = self.spec.with_params(params)
        try:
            prepared = self.data(spec.data)
        except (DataError, TooLarge):
            if spec.data != self.spec.data:  # the base data loads (checked first): this trial's data values fail
                trial.set_user_attr("fail_kind", "params")
            raise
        try:
            check_fits("this trial", self.trial_bytes(spec.train, prepared), "narrow the [search] range")
        except TooLarge as exc:
            raise ParamsError(f"too large for memory: {exc}") from None
        trained = [0]  # model-epochs trained in this trial, every fold and member, pruned or not

        def report(epoch: int, value: float, models: int) -> None:
            trained[0] += models
            if self.should_stop():
                raise Interrupted(f"stopped by the user at epoch {epoch}")
            # each report is a write, each pruning check a read, of storage
            if epoch % self.spec.report_every:
                return
            trial.report(value, step=epoch)
            if trial.should_prune():
                trial.set_user_attr("pruned_at", {"epoch": epoch})
                trial.set_user_attr("epochs_trained", trained[0])
                raise optuna.TrialPruned(f"epoch {epoch}: mean validation MSE over folds {value:.4g}")

        try:
            cv = cross_validate(spec, prepared, trial.number, report)
        except DivergenceError as exc:
            trial.set_user_attr("fail_reason", str(exc))
            raise
        for key, value in cv.attrs().items():
            trial.set_user_attr(key, value)
        trial.set_user_attr("epochs_trained", trained[0])
        trial.set_user_attr("baselines", self.baselines())
        return cv.mean


