import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tuner.data.prepare import Prepared

BIN = Path(sys.executable).parent  # the venv's console scripts: tuner, optuna


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


TINY = """
[study]
name = "{name}"
n_trials = {n_trials}
seed = {seed}
startup_trials = {startup}
warmup_epochs = {warmup}

[data]
dataset = "sine"
n_points = 300
window = 8

[cv]
folds = 2

[train]
cell = "gru"
hidden_units = 8
epochs = {epochs}
patience = 3

[search]
{search}
"""


@pytest.fixture
def tiny_study(tmp_path):
    """Write a small, fast sine study file into tmp_path; returns its path."""

    def write(name="tiny", n_trials=4, seed=0, epochs=6, startup=2, warmup=2,
              search='learning_rate = {low = 1e-3, high = 3e-2, log = true}\nbatch_size = [16, 32]\n'
                     'optimizer = ["adam", "rmsprop"]\nactivation = ["tanh", "relu"]') -> Path:
        path = tmp_path / f"{name}.toml"
        path.write_text(textwrap.dedent(TINY.format(name=name, n_trials=n_trials, seed=seed, epochs=epochs,
                                                    search=search, startup=startup, warmup=warmup)))
        return path

    return write


def cli(capsys, *args) -> tuple[int, str, str]:
    """Run `tuner ARGS` in this process, as the console script does: (exit code, stdout, stderr)."""
    from tuner.cli import main

    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def frame(values, name="y") -> pd.DataFrame:
    """One series as a frame indexed by row, as read_csv gives it."""
    return pd.DataFrame({name: np.asarray(values, dtype=float)}, index=pd.RangeIndex(len(values), name="t"))


def prepared(w) -> Prepared:
    """A Prepared around hand-made windows, to call split() on chosen indices."""
    none = np.arange(0)
    return Prepared(w.x, w.y, w.y_orig, none, none, [], w, w.target_time)


def write_csv(tmp_path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path
