"""config/samplers.py: the samplers and pruners a study file names, each seeded and set from the study."""

import optuna
import pytest

from tuner.config.samplers import PRUNERS, SAMPLERS
from tuner.config.studyfile import study_from_dict

DOC = {"study": {"name": "s", "seed": 1, "startup_trials": 4, "warmup_epochs": 3},
       "data": {"dataset": "sine"}, "train": {"epochs": 30},
       "search": {"hidden_units": [4, 8, 16], "cell": ["gru", "lstm"]}}


def first_params(name: str, seed: int) -> dict:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(sampler=SAMPLERS[name](study_from_dict(DOC), seed))
    trial = study.ask()
    return {"hidden_units": trial.suggest_categorical("hidden_units", [4, 8, 16]),
            "cell": trial.suggest_categorical("cell", ["gru", "lstm"])}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_the_same_seed_gives_the_same_first_trial(name):
    assert first_params(name, 7) == first_params(name, 7)
    assert len({str(first_params(name, s)) for s in range(8)}) > 1  # the seed is used


def test_grid_walks_exactly_the_listed_values_and_pruners_read_the_study():
    spec = study_from_dict(DOC)
    study = optuna.create_study(sampler=SAMPLERS["grid"](spec, 0))
    seen = set()

    def objective(trial: optuna.Trial) -> float:
        seen.add((trial.suggest_categorical("hidden_units", [4, 8, 16]),
                  trial.suggest_categorical("cell", ["gru", "lstm"])))
        return 1.0

    study.optimize(objective, n_trials=20)  # the grid stops the study once every point has run
    assert len(study.trials) == 6
    assert seen == {(h, c) for h in (4, 8, 16) for c in ("gru", "lstm")}
    median = PRUNERS["median"](spec)
    assert median._n_startup_trials == 4 and median._n_warmup_steps == 3
    assert isinstance(PRUNERS["none"](spec), optuna.pruners.NopPruner)
