"""The search space is derived from the specs' fields and the registries' signatures: one place per fact."""

import optuna
import pytest

from tuner.config.search import searchable_keys, suggest
from tuner.config.spec import TrainSpec
from tuner.config.studyfile import study_from_dict
from tuner.errors import ConfigError
from tuner.nn import make_optimizer
from tuner.nn.optimizers import OPTIMIZERS, Adam


class Nadam(Adam):
    """Adam with Nesterov momentum; here only its registration matters."""

    def __init__(self, lr: float = 0.002, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(lr, beta1, beta2, eps, weight_decay)


@pytest.fixture
def nadam(monkeypatch):
    monkeypatch.setitem(OPTIMIZERS, "nadam", Nadam)


def test_a_registered_optimizer_gets_its_settings_and_their_search(nadam):
    assert searchable_keys()["beta1"] == ("train", frozenset({"adam", "nadam"}))
    cfg = TrainSpec(optimizer="nadam", beta1=0.8, learning_rate=0.01)
    assert cfg.optimizer_settings() == {"lr": 0.01, "beta1": 0.8, "beta2": 0.999, "weight_decay": 0.0}
    assert make_optimizer("nadam", **cfg.optimizer_settings()).beta1 == 0.8
    spec = study_from_dict({"train": {"optimizer": "nadam"}, "search": {"beta1": [0.5, 0.7], "rho": [0.8, 0.9]}})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    params = suggest(study.ask(), spec)
    assert set(params) == {"beta1"}  # rho belongs to rmsprop only: not drawn for nadam


def test_a_setting_written_above_its_optimizer_is_searched_all_the_same():
    """The file's key order does not decide what is searched: momentum above optimizer is drawn in every
    trial that chose momentum, and the same seed draws the same values in either order."""
    search = {"momentum": {"low": 0.8, "high": 0.99}, "optimizer": ["momentum", "adam"], "batch_size": [8, 16]}
    drawn = {}
    for name, order in (("above", list(search)), ("below", ["optimizer", "batch_size", "momentum"])):
        spec = study_from_dict({"search": {k: search[k] for k in order}})
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        drawn[name] = [suggest(study.ask(), spec) for _ in range(12)]
    chose = [p for p in drawn["above"] if p["optimizer"] == "momentum"]
    assert chose and all(0.8 <= p["momentum"] <= 0.99 for p in chose)
    assert all("momentum" not in p for p in drawn["above"] if p["optimizer"] == "adam")
    assert drawn["above"] == drawn["below"]


def test_every_optimizer_setting_with_a_spec_field_is_passed_and_none_is_unknown():
    fields = set(TrainSpec.__dataclass_fields__)
    for name in OPTIMIZERS:
        settings = TrainSpec(optimizer=name).optimizer_settings()
        make_optimizer(name, **settings)  # every key is one the constructor takes
        assert set(settings) - {"lr"} <= fields


def test_searchable_keys_come_from_the_fields():
    keys = searchable_keys()
    assert keys["window"] == ("data", None) and keys["learning_rate"] == ("train", None)
    assert "ensemble" not in keys and "dataset" not in keys and "path" not in keys
    with pytest.raises(ConfigError, match="search.ensemble cannot be searched"):
        study_from_dict({"search": {"ensemble": [1, 2]}})
