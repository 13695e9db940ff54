"""tuning/objective.py: the data a study's trials share is prepared once per data setting, within a memory budget."""

import dataclasses

from tuner.config.spec import DataSpec, StudySpec
from tuner.tuning import objective as objective_module
from tuner.tuning.objective import Objective


def test_prepared_data_is_kept_while_it_fits_and_the_oldest_dropped_when_not(monkeypatch):
    spec = StudySpec(name="cache", data=DataSpec(dataset="sine", n_points=400))
    settings = [dataclasses.replace(spec.data, window=w) for w in (4, 8, 12)]
    roomy = Objective(spec)
    first = [roomy.data(d) for d in settings]
    assert list(roomy._data) == settings and roomy.data(settings[0]) is first[0]  # reused, not prepared again
    budget = 1.01 * (first[1].nbytes + first[2].nbytes)  # the two largest settings fit, not all three
    monkeypatch.setattr(objective_module, "DATA_CACHE", budget)
    tight = Objective(spec)
    for d in settings:
        tight.data(d)
    assert list(tight._data) == settings[1:]  # two fit the budget: the least recently used went
    tight.data(settings[1])  # used again: now the most recent
    tight.data(settings[0])
    assert list(tight._data) == [settings[1], settings[0]]
