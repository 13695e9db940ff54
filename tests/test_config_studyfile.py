import subprocess

import pytest
from conftest import BIN

from tuner.cli import main
from tuner.config.studyfile import load_study, study_from_dict
from tuner.errors import ConfigError, DataError

GOOD = {"study": {"name": "x"}, "search": {"learning_rate": {"low": 1e-4, "high": 1e-1, "log": True}}}


@pytest.mark.parametrize(
    "doc, match",
    [
        ({"study": {"name": "x", "n_trialz": 3}},
         r"unknown key study.n_trialz; valid keys in \[study\]: name, n_trials"),
        ({"train": {"epoch": 3}}, r"unknown key train.epoch; valid keys in \[train\]: cell"),
        ({"data": {"window": "12"}}, r"data.window must be an integer, got window='12'"),
        ({"train": {"learning_rate": "fast"}},
         r"train.learning_rate must be a finite number, got learning_rate='fast'"),
        ({"study": {"n_trials": 2.5}}, r"study.n_trials must be an integer, got n_trials=2.5"),
        ({"train": {"optimizer": "adamw"}}, r"train.optimizer must be one of adagrad, adam, momentum, rmsprop, sgd; "
                                            r"got optimizer='adamw'"),
        ({"search": {"optimizer": ["adam", "adamw"]}}, r"search.optimizer: optimizer must be one of .*got "
                                                       r"optimizer='adamw'"),
        ({"search": {"activation": []}}, r"search.activation is an empty list; give at least one value"),
        ({"search": {"learning_rate": {"low": 0.1, "high": 0.001}}}, r"search.learning_rate.low must be below .high"),
        ({"search": {"learning_rate": {"low": 0, "high": 0.1, "log": True}}}, r"on a log scale needs low > 0"),
        ({"search": {"hidden_units": {"low": 4.5, "high": 64}}}, r"search.hidden_units is a whole number"),
        ({"search": {"dtype": ["float32"]}},
         r"search.dtype cannot be searched; searchable keys: cell, num_layers, hidden_units"),
        ({"search": {"batch_size": [16, 0]}}, r"search.batch_size: batch_size must be positive, got batch_size=0"),
        ({"train": {"hidden_units": 0}}, r"train.hidden_units must be positive, got hidden_units=0"),
        ({"cv": {"folds": 1}}, r"cv.folds must be at least 2, got folds=1"),
        ({"train": {"ensemble": 0}}, r"train.ensemble must be positive, got ensemble=0"),
        ({"train": {"ensemble": 50}}, r"train.ensemble must be at most 20, got ensemble=50"),
        ({"study": {"sampler": "bayes"}}, r"study.sampler must be one of tpe, random, qmc, grid; got sampler='bayes'"),
        ({"study": {"sampler": "grid"}, "search": {"learning_rate": {"low": 0.001, "high": 0.1}}},
         r"sampler = \"grid\" needs every \[search\] entry to be a list of choices"),
        ({"model": {}}, r"unknown section \[model\]; the sections are: study, data, cv, train, search, provenance"),
        ({"data": {"dataset": "mnist"}}, r"data.dataset must be one of adding, airline, csv, sine, sunspots"),
        ({"data": {"test_fraction": 1.5}}, r"data.test_fraction must be between 0 and 1"),
        ({"data": {"dataset": "sunspots", "path": "sales.csv", "target": "y"}},
         r"data.dataset='sunspots' reads no file, but path, target are set: set dataset = \"csv\""),
    ],
)
def test_malformed_study_names_the_key(doc, match):
    with pytest.raises((ConfigError, DataError), match=match):
        study_from_dict(doc, "s.toml")


def test_a_data_path_alone_means_a_csv_study():
    spec = study_from_dict({"data": {"path": "sales.csv", "target": "y"}}, "s.toml")
    assert spec.data.dataset == "csv" and spec.data.path == "sales.csv"


def test_good_study_and_trial_params_merge():
    spec = study_from_dict(GOOD, "studies/x.toml")
    assert spec.default_storage == "sqlite:///studies/x.db"
    merged = spec.with_params({"learning_rate": 0.05, "window": 7, "optimizer": "sgd"})
    assert merged.train.learning_rate == 0.05 and merged.train.optimizer == "sgd" and merged.data.window == 7
    assert spec.train.learning_rate == 0.001  # the spec itself is unchanged (frozen)


def test_load_study_reports_file_and_toml_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"study file .*missing.toml does not exist"):
        load_study(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[study\nname = 1")
    with pytest.raises(ConfigError, match=r"bad.toml is not valid TOML"):
        load_study(bad)
    with pytest.raises(ConfigError, match=r"is a directory"):
        load_study(tmp_path)


@pytest.mark.parametrize(
    "text, key",
    [
        ('[study]\nn_trials = 2\nbogus = 1\n', "study.bogus"),
        ('[train]\nepochs = "ten"\n', "train.epochs"),
        ('[search]\noptimizer = ["adam", "lion"]\n', "search.optimizer"),
        ('[search]\nactivation = []\n', "search.activation"),
        ('[search]\nlearning_rate = {low = 1.0, high = 0.1}\n', "search.learning_rate"),
    ],
)
def test_cli_malformed_study_one_line_no_traceback_no_database(tmp_path, capsys, text, key):
    path = tmp_path / "broken.toml"
    path.write_text(text)
    code = main(["tune", str(path), "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("tuner: error: ") and key in err and "broken.toml" in err
    assert not list(tmp_path.glob("*.db"))


@pytest.mark.slow
def test_cli_error_through_the_real_console_script(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('[train]\noptimizer = "adamw"\n')
    done = subprocess.run([BIN / "tuner", "tune", str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().count("\n") == 0 and "train.optimizer" in done.stderr
