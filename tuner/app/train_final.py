"""From a config to a model: retrain on all tuning data, score once on the held-out test split, save the
Forecaster (forecast/artifact.py). Several configs as one ensemble: ensemble.py.

The final model trains for the early-stopping epoch its trial reached on the last cross-validation fold
(there is no validation data left to stop on; with patience 0 that is exactly [train].epochs), or for
[train].epochs when the config has no provenance.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config.spec import DataSpec, StudySpec
from ..data.panel import PanelWindows
from ..data.prepare import Prepared, Split, prepare, scores
from ..data.statistical import STATISTICAL, check_use
from ..data.times import row_times
from ..evaluate.cv import cross_validate, gradient_diagnostics
from ..forecast.artifact import ALL_ROWS, Forecaster, Partner, study_data
from ..forecast.blend import Ridge, blend_into, choose_partner_weight, choose_weight
from ..forecast.frames import forecast_frame, with_bounds
from ..forecast.intervals import DEFAULT_COVERAGE, GAMMA, Intervals, out_of_fold
from ..forecast.stats import AUTO, CANDIDATES, choose, combine_test_split, combined_out_of_fold
from ..limits import check_fits
from ..train.factory import config_bytes, train_members, trial_seed
from .origin import origin_scores
from .outputs import clear_outputs, draw, interval_metrics, target_names, write_scores
from .series import protocol, residual_intervals
from .tables import comparison_table


@dataclass
class FinalResult:
    metrics: dict
    predictions: pd.DataFrame
    model_path: Path
    table: str
    oof: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # one config's out-of-fold keys, forecast, actual
    forecaster: Forecaster | None = None
    picture: Path | None = None  # forecast.png
    cleared: list[str] = dataclasses.field(default_factory=list)  # an earlier train's outputs it replaced
    intervals: Intervals | None = None
    baselines: dict[str, np.ndarray] | None = None  # the baselines' test forecasts, rows as predictions'
    tested: Forecaster | None = None  # the model the test split scored (the saved one unless --refit)
    alone: np.ndarray | None = None  # with --combine, the test forecast before the partners joined it


def final_epochs(spec: StudySpec) -> int:
    """The epochs a final model trains for: its trial's last fold's early-stopping epoch. The last fold trained
    on the most data, the nearest to what the final model sees, and on the latest. Measured on the default
    and airline studies (docs/final-models.md): better than the median over folds, and than scaling the
    epochs by data size."""
    best = spec.provenance.get("cv_best_epochs") or []
    return int(best[-1]) if best else spec.train.epochs


def train_final(spec: StudySpec, out_dir: str | Path, coverage: float = DEFAULT_COVERAGE, picture: bool = True,
                blend: bool = True, gamma: float | None = None, tick: Callable[[], None] | None = None,
                refit: bool = False, combine: tuple[str, ...] = ()) -> FinalResult:
    """Train on every window tuning saw, test on the held-out split, and write model, metrics, predictions.
    [train].ensemble = N members with their own seeds are averaged, as cross-validation scored them. Intervals at
    `coverage` come from out-of-fold residuals (the config cross-validated again with the final epochs) and adapt
    from the test split on (`gamma`). With `blend`, the RNN is combined with ridge, the RNN's share inverse to
    their out-of-fold MSEs (forecast/blend.py); with `combine`, averaged with statistical models (stats.py). With
    `refit`, the model saved is the same recipe retrained on every row, the test split included, to forecast the
    real future; the test scores stay those of the model that did not see it."""
    out_dir, gamma, cfg, epochs = Path(out_dir), GAMMA if gamma is None else gamma, spec.train, final_epochs(spec)
    prepared = prepare(spec.data, spec.cv, spec.seed)
    check_use({"--combine": combine, "[study] compare": spec.compare}, prepared.windows is not None,
              len(target_names(spec)))
    split = prepared.test()
    check_fits(f"training {cfg.cell} with hidden_units={cfg.hidden_units}",
               config_bytes(cfg, prepared, len(prepared.test_idx), cfg.ensemble),
               "lower hidden_units, batch_size or num_layers")
    trial = int(spec.provenance.get("trial", 0))
    # the residuals of this final recipe (fixed epochs, nothing chosen on the validation windows) on every fold:
    # 85% test coverage at 90% nominal on the default study, the trial's own early-stopped folds' 81%
    recipe = dataclasses.replace(spec, train=dataclasses.replace(cfg, patience=0, epochs=epochs))
    cv = cross_validate(recipe, prepared, trial, (lambda *_: tick()) if tick else None)  # tick: once an epoch
    blend = blend and split.y_train.ndim == 2  # a highway, and so the blend, forecasts after the last step only
    study, other, data = _study_side(spec, split)
    weight, chosen, oof = _blend_weight(blend, prepared, study, cv)
    asked, (combine, picked) = bool(combine), _auto(combine, spec, oof, prepared, data.baseline_season)
    oof = combined_out_of_fold(combine, oof, prepared, data.baseline_season)  # the intervals' residuals
    seeds = [trial_seed(spec.seed, trial, len(prepared.folds), member) for member in range(cfg.ensemble)]
    members, fits = train_members(cfg, prepared, seeds, split.x_train, split.y_train, epochs,  # one stack
                                  (lambda *_: tick()) if tick else None)
    gradients = gradient_diagnostics(members[:1], fits[:1], [(split.x_train, split.y_train)])
    alone = split.score(np.mean([m.predict(split.x_eval) for m in members], axis=0))
    members, partner = _blended(spec, members, blend, weight, split, other if study else None, data)
    predicted = split.to_original(np.mean([m.predict(split.x_eval) for m in members], axis=0))
    if partner is not None:
        predicted = weight * predicted + (1 - weight) * other.to_original(partner.ridge.predict(other.x_eval))
    naive = other.baseline_forecasts(data.baseline_season)  # the study's, whatever window this config searched
    rnn_forecast, predicted = predicted, combine_test_split(combine, prepared, predicted, naive, data.baseline_season,
                                                            spec.compare)
    test, baselines = scores(predicted, split.y_eval_orig, split.mase_scale), other.baselines(forecasts=naive)
    predictions, intervals = _test_predictions(spec, prepared, predicted, split.y_eval_orig,
                                               residual_intervals(prepared, coverage, oof, gamma))
    metrics = {
        "model": {"cell": cfg.cell, "hidden_units": cfg.hidden_units, "n_params": members[0].n_params,
                  "epochs": epochs, "configured_epochs": cfg.epochs, "ensemble": cfg.ensemble},
        "test": test, "baselines": baselines, "n_train": len(prepared.train_idx), "n_test": len(prepared.test_idx),
        "metric": spec.metric, "protocol": protocol(spec.data, len(prepared.ids)), "series": len(prepared.ids),
        "cv": {k: spec.provenance[k] for k in ("cv_mse", "cv_sem") if k in spec.provenance},
        "intervals": interval_metrics(intervals, predictions), "gradients": gradients,
        **_partners(chosen, weight, alone, partner, combine, scores(rnn_forecast, split.y_eval_orig, split.mase_scale),
                    picked),
    }
    tested = Forecaster(members, split.scaling(), spec, partner, combine=combine)
    forecaster = _final_model(tested, prepared, study, seeds, (blend, weight, data), metrics, refit, tick)
    cleared = clear_outputs(out_dir)
    model_path = _save(out_dir, forecaster, intervals, metrics, predictions, prepared, naive)
    png = draw(out_dir, prepared, predictions, [forecaster], intervals, f"{spec.name}: {cfg.cell}") if picture else None
    return FinalResult(metrics, predictions, model_path, comparison_table(metrics, cfg.cell), oof, forecaster, png,
                       cleared, intervals, naive, tested, rnn_forecast if asked else None)


def _auto(combine: tuple[str, ...], spec: StudySpec, oof: tuple, prepared: Prepared, season: int
          ) -> tuple[tuple[str, ...], dict | None]:
    """--combine auto resolved: the partners chosen out of fold among the study's compare models (else ets and
    theta), and what each choice scored there; other values as they are."""
    if combine != AUTO:
        return combine, None
    candidates = spec.compare or CANDIDATES
    picked, scored = choose(candidates, oof, prepared, spec.metric, season)
    return picked, {"candidates": [STATISTICAL[n] for n in candidates], "chosen": [STATISTICAL[n] for n in picked],
                    "metric": spec.metric, "out_of_fold": scored}


def _partners(chosen: dict | None, weight: float, alone: dict, partner: Partner | None, combine: tuple[str, ...],
              rnn_test: dict, picked: dict | None) -> dict[str, dict]:
    """metrics.json's account of what joined the RNN: the blend's weight and the RNN alone on the test split; with
    --combine, the statistical models and the RNN's own score beside the combination's (with auto, how they were
    chosen)."""
    out: dict[str, dict] = {}
    if chosen is not None:
        out["blend"] = {"weight": weight, "out_of_fold_mse": chosen, "rnn_alone_test": alone,
                        "partner": "the study's ridge" if partner else "ridge on its windows"}
    if combine:
        out["combined"] = {"with": [STATISTICAL[n] for n in combine], "rnn_alone_test": rnn_test}
    if picked is not None:
        out["auto"] = picked
    return out


def _final_model(tested: Forecaster, prepared: Prepared, study: Prepared | None, seeds: list[int],
                 blend: tuple[bool, float, DataSpec], metrics: dict, refit: bool,
                 tick: Callable[[], None] | None) -> Forecaster:
    """The model to save: the one the test split scored, scored again from the test split's origin (metrics'
    "origin"); with `refit`, the same recipe trained again on every row."""
    spec = tested.spec
    origin = origin_scores([tested], prepared, target_names(spec), spec.data.baseline_season)
    if origin is not None:
        metrics["origin"] = origin
    if not refit:
        return tested
    forecaster = dataclasses.replace(_refit(spec, prepared, study, seeds, blend, tick), combine=tested.combine)
    metrics["refit"] = {"windows": forecaster.refit, "rows": ALL_ROWS}
    return forecaster


def _refit(spec: StudySpec, prepared: Prepared, study: Prepared | None, seeds: list[int],
           blend: tuple[bool, float, DataSpec], tick: Callable[[], None] | None) -> Forecaster:
    """The final recipe (its seeds, epochs and blend weight) trained again on every window, the test split's
    too, each series scaled by all its rows (tuner train --refit)."""
    full, other = prepared.everything(), (study.everything() if study is not None else None)
    members, _ = train_members(spec.train, prepared, seeds, full.x_train, full.y_train, final_epochs(spec),
                               (lambda *_: tick()) if tick else None)
    members, partner = _blended(spec, members, *blend[:2], full, other, blend[2])
    return Forecaster(members, full.scaling(), spec, partner, refit=len(full.x_train))


def _blended(spec: StudySpec, members: list, blend: bool, weight: float, split: Split, other: Split | None,
             data: DataSpec) -> tuple[list, Partner | None]:
    """The members with the blend (the RNN's share `weight`): ridge on their own windows folded in (other None),
    or the study's ridge on its windows (`other`, its [data] `data`) kept beside them; as they are without."""
    if not blend:
        return members, None
    if other is None:
        ridge = Ridge.fit(split.x_train, split.y_train)
        return [blend_into(m, weight, ridge, split.x_train.shape[1]) for m in members], None
    return members, Partner(weight, Ridge.fit(other.x_train, other.y_train), other.scaling(),
                            dataclasses.replace(spec, data=data))


def _blend_weight(blend: bool, prepared: Prepared, study: Prepared | None, cv: Any) -> tuple[float, Any, tuple]:
    """The RNN's share in its blend (1 without one), the out-of-fold MSEs it was chosen on, and the out-of-fold
    residuals the intervals come from (the blend's, when there is one)."""
    if not blend:
        return 1.0, None, out_of_fold(cv.oof)
    if study is None:  # ridge on the config's own windows, folded into the model
        weight, chosen, folds = choose_weight([prepared.fold(f) for f in range(len(prepared.folds))], cv.oof_scaled)
    else:  # the study's ridge, kept beside the model
        weight, chosen, folds = choose_partner_weight(cv.oof, study)
    return weight, chosen, out_of_fold(folds)


def _study_side(spec: StudySpec, split: Split) -> tuple[Prepared | None, Split, DataSpec]:
    """The study's own windows and transforms, when this config's differ: its baselines are the ones every
    config of the study meets, and its ridge the blend's partner (kept beside the model: artifact.Partner).
    (None, the config's split, its data) when they are the config's own."""
    data = study_data(spec)
    study = prepare(data, spec.cv, spec.seed) if data != spec.data else None
    other = study.test() if study is not None else split
    if not np.array_equal(other.y_eval_orig, split.y_eval_orig):  # cannot happen for a config of the study
        return None, split, spec.data
    return study, other, data


def _test_predictions(spec: StudySpec, prepared: Prepared, predicted: np.ndarray, actual: np.ndarray,
                      intervals: Intervals) -> tuple[pd.DataFrame, Intervals]:
    """The test split's forecasts (and the `actual` values) in the one output layout, keyed by the times they
    forecast, and their intervals: a series' test split is the first the model never trained on, so they adapt
    from there on."""
    targets = target_names(spec)
    horizon = predicted.shape[1] // len(targets)
    if prepared.panel is not None:  # each series' own times; intervals at each series' scale (intervals.py)
        panel, idx = prepared.panel, prepared.test_idx
        predictions = forecast_frame(panel.row_times(idx, horizon), predicted, targets, series=panel.id_of(idx),
                                     actual=actual)
        return predictions, with_bounds(predictions, intervals)
    w = prepared.windows
    assert not isinstance(w, PanelWindows)
    times = (row_times(w.times, w.target_rows(prepared.test_idx, horizon))
             if w is not None else prepared.test_idx[:, None])  # independent sequences: sample
    predictions = forecast_frame(times, predicted, targets, actual=actual)
    adapt = str(times[0, 0]) if prepared.windows is not None and intervals.gamma > 0 else None
    return predictions, with_bounds(predictions, dataclasses.replace(intervals, adapt_from=adapt))


def _save(out_dir: Path, forecaster: Forecaster, intervals: Intervals, metrics: dict,
          predictions: pd.DataFrame, prepared: Prepared, baselines: dict[str, np.ndarray]) -> Path:
    """The model folder: model.npz and model.json, and the scores (write_scores)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = forecaster.save(out_dir)
    write_scores(out_dir, intervals, metrics, predictions, prepared, baselines)
    return model_path
