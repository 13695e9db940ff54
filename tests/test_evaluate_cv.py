"""evaluate/cv.py: a trial's folds and ensemble members, each fold scored on the mean of its members."""

import dataclasses

import numpy as np
import pytest

from tuner.config.studyfile import load_study
from tuner.data.prepare import prepare
from tuner.evaluate.cv import cross_validate
from tuner.nn import SequenceModel, make_optimizer
from tuner.train.factory import trial_seed
from tuner.train.trainer import fit


def _fold_models(spec, prepared, trial, fold, members):
    """The models cross_validate trains on one fold, rebuilt by hand from the documented seeds."""
    cfg, split = spec.train, prepared.fold(fold)
    out = []
    for member in range(members):
        seed = trial_seed(spec.seed, trial, fold, member)
        model = SequenceModel(cfg.cell, prepared.input_size, cfg.hidden_units, prepared.output_size,
                              activation=cfg.activation, seed=seed, dtype=cfg.dtype)
        fit(model, make_optimizer(cfg.optimizer, **cfg.optimizer_settings()), split.x_train, split.y_train,
            epochs=cfg.epochs, batch_size=cfg.batch_size, seed=seed, clip_norm=cfg.clip_norm,
            validate=(split.x_eval, lambda pred: split.score(pred)["mse"]), patience=cfg.patience or None)
        out.append(model.predict(split.x_eval))
    return split, out


@pytest.mark.parametrize("patience", [3, 0])
def test_an_ensemble_fold_scores_the_mean_of_its_members_predictions(tiny_study, patience):
    path = tiny_study(search="")
    spec = load_study(path)
    train = dataclasses.replace(spec.train, ensemble=3, patience=patience, dtype="float64")  # alone: to 1e-9
    spec = dataclasses.replace(spec, train=train)
    prepared = prepare(spec.data, spec.cv, spec.seed)
    cv = cross_validate(spec, prepared, trial_number=5)
    for fold in range(2):
        split, preds = _fold_models(spec, prepared, 5, fold, 3)
        members = [split.score(p)["mse"] for p in preds]
        assert len(set(members)) == 3  # three different seeds
        assert cv.fold_mse[fold] == pytest.approx(split.score(np.mean(preds, axis=0))["mse"], rel=1e-9)
        assert cv.fold_mse[fold] <= np.mean(members)  # the mean prediction never scores worse than the average
    if not patience:  # no early stopping: the final model trains exactly `epochs`, as every fold did
        assert cv.best_epochs == [spec.train.epochs] * 2 and cv.epochs == [3 * spec.train.epochs] * 2
