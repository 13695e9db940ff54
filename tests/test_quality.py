"""Fast, seeded smoke versions of the quality cases (bench/quality.py runs them in full): the real pipeline,
study file -> tune -> export -> train -> test score, and the split boundaries."""

import pytest
import tomli_w

from tuner.app.export import export
from tuner.app.train_final import train_final
from tuner.config.studyfile import load_study, to_doc
from tuner.data.prepare import prepare
from tuner.tuning.runner import run


def shrunk(name: str, tmp_path, **data) -> str:
    doc = to_doc(load_study(f"studies/{name}.toml"))
    doc["study"].update(n_trials=2, startup_trials=1)
    doc["train"].update(epochs=3, patience=2)
    doc["cv"]["folds"] = 2
    doc["data"].update(data)
    path = tmp_path / f"{name}.toml"
    path.write_text(tomli_w.dumps(doc))
    return str(path)


def test_zhang_split_boundaries():
    spec = load_study("studies/sunspots_zhang.toml")
    p = prepare(spec.data, spec.cv, spec.seed)
    assert len(p.test_idx) == 67 and p.time[p.test_idx[0]] == 1921 and p.time[p.test_idx[-1]] == 1987
    # the training years 1700-1920: the first `window` of them are inputs only
    assert p.time[p.train_idx[0]] == 1700 + spec.data.window and p.time[p.train_idx[-1]] == 1920
    assert len(p.train_idx) + spec.data.window == 221


def test_airline_split_boundaries():
    spec = load_study("studies/airline.toml")
    p = prepare(spec.data, spec.cv, spec.seed)
    assert len(p.test_idx) == 48 and str(p.time[p.test_idx[0]])[:7] == "1957-01"
    assert str(p.time[p.train_idx[-1]])[:7] == "1956-12"


@pytest.mark.parametrize("name, data", [("sunspots_zhang", {}), ("airline", {}),
                                        ("adding", {"n_points": 300, "length": 100})])
def test_quality_case_runs_end_to_end(name, data, tmp_path):
    path = shrunk(name, tmp_path, **data)
    study = run(load_study(path), progress=False).study
    assert len(study.trials) == 2
    [config] = export(path, str(tmp_path / "best.toml"))
    metrics = train_final(load_study(config), tmp_path / "run").metrics
    assert metrics["test"]["mse"] > 0 and set(metrics["baselines"]) >= {"mean", "ridge"}
    if name == "adding":
        assert metrics["n_test"] == 60 and metrics["baselines"]["mean"]["mse"] == pytest.approx(0.167, abs=0.06)
