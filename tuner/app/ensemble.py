"""Several configs (a study's top K trials) as one ensemble: each trained into OUT/member-N by train_final, their
forecasts averaged and scored once on the test split they share, a config that fails to train named (or left
out with --skip-failed)."""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ..config.spec import StudySpec
from ..data.prepare import prepare, scores
from ..data.statistical import key_histories, window_histories
from ..errors import ConfigError, DivergenceError, TrainingFailed
from ..evaluate.cv import gradient_warnings
from ..forecast.artifact import save_ensemble, study_data
from ..forecast.frames import with_bounds
from ..forecast.intervals import DEFAULT_COVERAGE, ensemble_residuals
from ..forecast.stats import prefit, sample, to_fit
from .origin import origin_histories, origin_scores
from .outputs import clear_outputs, draw, interval_metrics, target_names, write_scores
from .series import row_scale
from .tables import NAMES, auto_line, comparison_table, epochs_warning
from .train_final import FinalResult, final_epochs, train_final


def _config_name(spec: StudySpec) -> str:
    trial = spec.provenance.get("trial")
    return (spec.path or spec.name) + (f" (trial {trial})" if trial is not None else "")


def _train_members(specs: list[StudySpec], out_dir: Path, skip_failed: bool, workers: int = 1,
                   **options: Any) -> tuple[list[StudySpec], list[FinalResult], list[str]]:
    """Each config's final model into OUT/member-1, member-2, ... (`workers` at a time): a config whose training
    fails is named, and with skip_failed left out (the members stay numbered in order) instead of stopping the rest."""
    kept: list[StudySpec] = []
    members: list[FinalResult] = []
    dropped: list[str] = []
    for i, (spec, outcome) in enumerate(zip(specs, _outcomes(specs, out_dir, workers, options), strict=False), 1):
        if isinstance(outcome, DivergenceError):  # training failed; a config too large to fit stops the run
            if not skip_failed:
                raise TrainingFailed(f"config {_config_name(spec)}: {outcome}; rerun with --skip-failed to train the "
                                     f"others and leave it out") from None
            dropped.append(f"{_config_name(spec)}: {outcome}")
            continue
        if i != len(members) + 1:  # after a config left out: the members stay numbered in order
            (out_dir / f"member-{i}").rename(out_dir / f"member-{len(members) + 1}")
        members.append(outcome)
        kept.append(spec)
    if not members:
        raise TrainingFailed("every config failed to train: " + "; ".join(dropped))
    return kept, members, dropped


def _outcomes(specs: list[StudySpec], out_dir: Path, workers: int, options: dict[str, Any]
              ) -> Iterator[FinalResult | DivergenceError]:
    """Each config trained into OUT/member-<its place>, in order: its result or its training's failure. With
    workers > 1, that many at once in processes forked from this one (a member trains on one core, so two
    members take the time of one on two cores; each plans on its share of memory as a tuning worker does)."""
    if workers <= 1 or len(specs) == 1:
        for i, spec in enumerate(specs, 1):
            try:
                yield train_final(spec, out_dir / f"member-{i}", picture=False, **options)
            except DivergenceError as exc:
                yield exc
        return
    tick = options.pop("tick", None)
    _prefit(specs[0], options.get("combine", ()))
    context = multiprocessing.get_context("fork")  # the parent's imports, data and partner forecasts carry over
    with ProcessPoolExecutor(max_workers=min(workers, len(specs)), mp_context=context) as pool:
        futures = [pool.submit(_member, spec, out_dir / f"member-{i}", options) for i, spec in enumerate(specs, 1)]
        try:
            for spec, future in zip(specs, futures, strict=True):
                outcome = future.result()
                for _ in range(final_work([spec], options.get("refit", False)) if tick else 0):
                    tick()  # a member's epochs, once it is done
                yield outcome
        finally:
            for future in futures:
                future.cancel()


def _prefit(spec: StudySpec, combine: tuple[str, ...]) -> None:
    """The statistical models' forecasts the members will ask for (at every validation and test window, and from
    each series' test origin), fitted once here before the helpers fork."""
    if not (combine or spec.compare):
        return
    prepared, season = prepare(spec.data, spec.cv, spec.seed), study_data(spec).baseline_season
    if prepared.windows is None:
        return
    validation = prepared.windows.keys(np.concatenate([prepared.train_idx[va] for _, va in prepared.folds]))
    names, horizon = to_fit(combine, spec.compare), spec.data.horizon
    prefit(to_fit(combine), key_histories(prepared.windows, validation[sample(validation)]), horizon, season)
    prefit(names, window_histories(prepared.windows, prepared.test_idx), horizon, season)
    histories, steps = origin_histories(prepared)
    if combine and steps > spec.data.horizon:
        prefit(to_fit(combine), histories, steps, spec.data.baseline_season)


def _member(spec: StudySpec, out: Path, options: dict[str, Any]) -> FinalResult | DivergenceError:
    """One member in a helper process: one BLAS thread (the members share the cores), its failure returned."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        try:
            return train_final(spec, out, picture=False, **options)
        except DivergenceError as exc:
            return exc


def final_work(specs: list[StudySpec], refit: bool = False) -> int:
    """Epochs train_ensemble runs (each config's recipe cross-validated, then trained, and with refit trained
    again on every row): a progress bar's total."""
    return sum((3 if refit else 2) * final_epochs(spec) for spec in specs)


def train_ensemble(specs: list[StudySpec], out_dir: str | Path, coverage: float = DEFAULT_COVERAGE,
                   blend: bool = True, gamma: float | None = None, skip_failed: bool = False,
                   tick: Callable[[], None] | None = None, refit: bool = False,
                   combine: tuple[str, ...] = (), workers: int = 1) -> FinalResult:
    """Train each config's final model into OUT/member-1, member-2, ... and score the mean of their forecasts
    on the test split they share. Averaging the best few trials' models, rather than betting on the single
    best, undoes part of the luck in which trial came out on top."""
    if len(specs) == 1:
        try:
            return train_final(specs[0], out_dir, coverage, blend=blend, gamma=gamma, tick=tick, refit=refit,
                               combine=combine)
        except DivergenceError as exc:  # named as in an ensemble
            raise TrainingFailed(f"config {_config_name(specs[0])}: {exc}") from None
    out_dir = Path(out_dir)
    splits = {_test_target(s) for s in specs}
    if len(splits) > 1:
        raise ConfigError("these configs forecast different test splits (dataset, range, test size or horizon "
                          "differ); an ensemble needs configs from one study")
    cleared = clear_outputs(out_dir)
    specs, members, dropped = _train_members(specs, out_dir, skip_failed, workers, coverage=coverage, blend=blend,
                                             gamma=gamma, tick=tick, refit=refit, combine=combine)
    forecasts = ["predicted", "lower", "upper"]
    rows = members[0].predictions.drop(columns=forecasts)
    if any(not m.predictions.drop(columns=forecasts).equals(rows) for m in members[1:]):
        raise ConfigError("these configs' test windows differ (the same targets at the same times are needed); "
                          "an ensemble needs configs from one study")
    predictions = members[0].predictions.copy()
    predictions["predicted"] = np.mean([m.predictions["predicted"] for m in members], axis=0)
    shared = members[0].intervals  # every member's coverage, gamma and first out-of-sample time (a panel's scale)
    assert shared is not None  # train_final always sets them
    residuals = ensemble_residuals([m.oof for m in members if m.oof is not None], shared.scale)
    intervals = with_bounds(predictions, dataclasses.replace(shared, residuals=residuals, level=None))
    first = members[0].metrics
    prepared = prepare(specs[0].data, specs[0].cv, specs[0].seed)
    predicted, actual = (predictions[c].to_numpy()[:, None] for c in ("predicted", "actual"))
    metrics = {
        "model": {"members": len(members), "cells": [m.metrics["model"]["cell"] for m in members],
                  "epochs": [m.metrics["model"]["epochs"] for m in members]},
        "test": scores(predicted, actual, row_scale(predictions, prepared)[:, None]),
        "baselines": first["baselines"], "n_train": first["n_train"], "n_test": first["n_test"],
        **{k: first[k] for k in ("metric", "protocol", "series", "refit") if k in first},
        "members": [{"dir": f"member-{i}", "trial": spec.provenance.get("trial"), "test": m.metrics["test"],
                     "cv": m.metrics["cv"]} for i, (spec, m) in enumerate(zip(specs, members, strict=True), start=1)],
        "intervals": interval_metrics(intervals, predictions), "dropped": dropped,
    }
    metrics.update(_combined(members, actual, row_scale(predictions, prepared)[:, None]))
    tested = [m.tested for m in members if m.tested is not None]
    origin = origin_scores(tested, prepared, target_names(specs[0]), specs[0].data.baseline_season)
    if origin is not None:
        metrics["origin"] = origin
    write_scores(out_dir, intervals, metrics, predictions, prepared, members[0].baselines)
    save_ensemble(out_dir, [f"member-{i}" for i in range(1, len(members) + 1)])
    png = draw(out_dir, prepared, predictions, [m.forecaster for m in members if m.forecaster is not None], intervals,
               f"{specs[0].name}: mean of {len(members)} configs")
    table = "\n".join([comparison_table(metrics, "ensemble"), *member_lines(specs, members),
                       *(f"  left out (--skip-failed): {line}" for line in dropped)])
    return FinalResult(metrics, predictions, out_dir / "member-1" / "model.npz", table, picture=png, cleared=cleared)


def _combined(members: list[FinalResult], actual: np.ndarray, scale: np.ndarray) -> dict[str, dict]:
    """With --combine, the statistical models any member was averaged with (auto: each chose its own) and the
    members' RNNs alone, averaged, for the table's "alone" row."""
    joined = [n for m in members for n in m.metrics.get("combined", {}).get("with", [])]
    if not joined:
        return {}
    alone = np.mean([m.alone for m in members if m.alone is not None], axis=0).reshape(-1, 1)
    return {"combined": {"with": list(dict.fromkeys(joined)), "rnn_alone_test": scores(alone, actual, scale)}}


def _test_target(spec: StudySpec) -> tuple:
    """What decides the test split's targets: every [data] field but those a search may vary (window and
    transforms), which members of one ensemble may differ in."""
    return tuple(getattr(spec.data, f.name) for f in dataclasses.fields(spec.data) if not f.metadata.get("searchable"))


def member_lines(specs: list[StudySpec], members: list[FinalResult]) -> list[str]:
    """Each member's own score, its blend, and what its gradients and epochs say, for the ensemble's table."""
    lines = []
    for i, (spec, m) in enumerate(zip(specs, members, strict=True), start=1):
        mix, model = m.metrics.get("blend"), m.metrics["model"]
        key = {"mse": "rmse"}.get(spec.metric, spec.metric)  # the study's metric, as the table judges
        lines.append(f"  member-{i}: trial {spec.provenance.get('trial')}, {model['cell']}, "
                     f"{NAMES[key]} {m.metrics['test'][key]:.5g} on its own" + (
                         f" (the RNN's share in its blend with ridge {mix['weight']:.2f}; unblended "
                         f"{mix['rnn_alone_test'][key]:.5g})" if mix else ""))
        if "auto" in m.metrics:
            lines.append(f"    {auto_line(m.metrics['auto'], model['cell'])}")
        lines += [f"    {line}" for line in (gradient_warnings(m.metrics.get("gradients", {}), f"member-{i}",
                                                               model["cell"])
                                             + epochs_warning(model["epochs"], model["configured_epochs"],
                                                              f"member-{i}"))]
    return lines


__all__ = ["final_work", "train_ensemble"]
