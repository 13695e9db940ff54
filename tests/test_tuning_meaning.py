"""tuning/meaning.py: what a trial's value depends on, so that a study never mixes trials of two meanings."""

import pytest

from tuner.config.studyfile import study_from_dict
from tuner.errors import ConfigError
from tuner.tuning.meaning import changes, check_same_meaning, meaning, version

BASE = {"study": {"name": "m", "n_trials": 5, "seed": 3}, "data": {"dataset": "sine", "n_points": 200, "window": 8},
        "cv": {"folds": 2}, "train": {"epochs": 4}, "search": {"hidden_units": [4, 8]}}


def spec(**sections):
    return study_from_dict({k: {**BASE.get(k, {}), **sections.get(k, {})} for k in BASE.keys() | sections.keys()})


def attrs_of(s) -> dict:
    key, entry = version(s, None)
    return {f"spec:{key}": entry}


def test_what_runs_it_is_not_its_meaning_and_what_it_computes_is():
    old = attrs_of(spec())
    assert changes(old, spec(study={"n_trials": 50, "timeout": 60}), None) == []
    assert changes(old, spec(data={"window": 12}), None) == ["data.window was 8, now 12"]
    assert changes(old, spec(study={"seed": 4}), None) == ["study.seed was 3, now 4"]
    assert changes(old, spec(train={"epochs": 5}), None) == ["train.epochs was 4, now 5"]


def test_a_searched_key_is_each_trials_own_value_not_the_studys_meaning():
    assert "train.hidden_units" not in meaning(spec(), None)
    assert "train.epochs" in meaning(spec(), None) and "data.window" in meaning(spec(), None)
    assert changes(attrs_of(spec()), spec(search={"hidden_units": [4, 8], "window": [8, 12]}), None) == []


def test_the_refusal_is_one_line_naming_the_change_and_both_ways_out():
    with pytest.raises(ConfigError, match=r"study 'm' in runs/m.db ran with other settings \(cv.folds was 2, now "
                                          r"3\).*new \[study\].name, or rerun with --fresh"):
        check_same_meaning("m", attrs_of(spec()), spec(cv={"folds": 3}), None, "runs/m.db")
