"""Broken input, tried as a new user would: each gets one line on stderr, a non-zero exit, no traceback, and
leaves an existing study's database byte for byte as it was."""

import re
import subprocess
import textwrap

import pytest
from conftest import BIN, TINY, cli

from tuner.config.studyfile import load_study

GOOD = TINY.format(name="tiny", n_trials=2, seed=0, epochs=3, startup=2, warmup=2,
                   search="learning_rate = [0.01, 0.02]")


@pytest.fixture(scope="module")
def existing(tmp_path_factory):
    """A finished study, and a second one that has no complete trial."""
    folder = tmp_path_factory.mktemp("existing")
    (folder / "tiny.toml").write_text(textwrap.dedent(GOOD))
    done = subprocess.run([BIN / "tuner", "tune", str(folder / "tiny.toml"), "-q"], capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr  # a user's finished study: its process has exited
    (folder / "good.csv").write_text("t,y\n" + "".join(f"{i},{i % 7}\n" for i in range(200)))
    return folder


def study_with(folder, replace: dict[str, str]) -> str:
    """The good study file with some text replaced, written to a file of its own."""
    text = textwrap.dedent(GOOD)
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = folder / f"broken{len(list(folder.glob('broken*.toml')))}.toml"
    path.write_text(text)
    return str(path)


CSV_DATA = '[data]\ndataset = "csv"\npath = "{path}"\ntarget = "y"\ntime = "t"\nwindow = 8\n'


def cases(folder):
    db = f"sqlite:///{folder / 'tiny.db'}"
    (folder / "text.csv").write_text("t,y\n1,3\n2,oops\n3,4\n")
    (folder / "holes.csv").write_text("t,y\n" + "".join(f"{i},{'' if i == 5 else i}\n" for i in range(100)))
    (folder / "short.csv").write_text("t,y\n" + "".join(f"{i},{i}\n" for i in range(15)))
    (folder / "negative.csv").write_text("t,y\n" + "".join(f"{i},{i - 50}\n" for i in range(200)))
    (folder / "binary.csv").write_bytes(b"\x00\xff\xfe\x00" * 50)
    (folder / "notamodel").mkdir(exist_ok=True)
    sine = '[data]\ndataset = "sine"\nn_points = 300\nwindow = 8\n'

    def data_csv(name):
        return study_with(folder, {sine: CSV_DATA.format(path=folder / name)})

    return [
        (["tune", study_with(folder, {"[study]": "[study"}), "--storage", db], "not valid TOML"),
        (["tune", study_with(folder, {"epochs = 3": 'epochs = "ten"'}), "--storage", db], "train.epochs"),
        (["tune", study_with(folder, {"n_trials = 2": "n_trials = 2\nworkers = 4"}), "--storage", db], "study.workers"),
        (["tune", study_with(folder, {"[search]": '[search]\noptimizer = ["adam", "lion"]'}), "--storage", db],
         "search.optimizer"),
        (["tune", study_with(folder, {'cell = "gru"': 'cell = "transformer"'}), "--storage", db], "train.cell"),
        (["tune", study_with(folder, {"hidden_units = 8": "hidden_units = -4"}), "--storage", db], "hidden_units"),
        (["tune", study_with(folder, {"[search]": "[search]\nbatch_size = [16, 0]"}), "--storage", db], "batch_size"),
        (["tune", study_with(folder, {"[search]": "[search]\nactivation = []"}), "--storage", db], "search.activation"),
        (["tune", study_with(folder, {"learning_rate = [0.01, 0.02]": "learning_rate = {low = 0.1, high = 0.01}"}),
          "--storage", db], "search.learning_rate"),
        (["tune", study_with(folder, {'dataset = "sine"': 'dataset = "mnist"'}), "--storage", db], "data.dataset"),
        (["tune", study_with(folder, {"window = 8": "window = 8\ntest_fraction = 2.0"}), "--storage", db],
         "test_fraction"),
        (["tune", study_with(folder, {"folds = 2": "folds = 0"}), "--storage", db], "cv.folds"),
        (["tune", data_csv("missing.csv"), "--storage", db], "does not exist"),
        (["tune", data_csv("notamodel"), "--storage", db], "is a directory"),
        (["tune", data_csv("text.csv"), "--storage", db], "has text 'oops' in data row 2"),
        (["tune", data_csv("holes.csv"), "--storage", db], "missing value"),
        (["tune", data_csv("short.csv"), "--storage", db], "too short"),
        (["tune", data_csv("binary.csv"), "--storage", db], "binary.csv"),
        (["tune", study_with(folder, {sine: CSV_DATA.format(path=folder / "good.csv").replace(
            'target = "y"', 'target = "sales"')}), "--storage", db], "column 'sales' is not in"),
        (["tune", study_with(folder, {sine: CSV_DATA.format(path=folder / "negative.csv") + "log = true\n"}),
          "--storage", db], "log = true needs positive values"),
        (["tune", study_with(folder, {"window = 8": f'window = 8\npath = "{folder / "good.csv"}"'}), "--storage", db],
         "reads no file, but path is set"),
        (["tune", str(folder / "nope.toml")], "does not exist"),
        (["tune", str(folder)], "is a directory"),
        (["tune", str(folder / "tiny.toml"), "--workers", "0"], "argument --workers: must be at least 1"),
        (["tune", str(folder / "tiny.toml"), "--n-trials", "-3"], "argument --n-trials: must be at least 1"),
        (["tune", str(folder / "tiny.toml"), "--storage", "postgresql+psycopg2://u:pw@127.0.0.1:1/none"],
         "cannot open storage"),
        (["tune", str(folder / "tiny.toml"), "--storage", "nosuchdb://x"], "cannot open storage"),
        (["tune", str(folder / "tiny.toml"), "--bogus"], "unrecognized arguments"),
        (["export", "ghost", "--storage", db], "no study named 'ghost'"),
        (["export", "tiny", "--storage", db, "--format", "xml"], "invalid choice"),
        (["export", str(folder / "tiny.toml"), "--top", "0"], "--top must be at least 1"),
        (["train", str(folder / "nope.toml")], "does not exist"),
        (["predict", str(folder / "notamodel"), "--data", str(folder / "good.csv")], "holds no model.json"),
        (["trials", "ghost", "--storage", db], "no study named 'ghost'"),
        (["report", "ghost"], "no database at"),
        (["frobnicate"], "invalid choice"),
        (["tune", "/dev/zero"], "study file /dev/zero is not a regular file"),  # a device reports size 0
        (["tune", data_csv("/dev/zero"), "--storage", db], "data file /dev/zero is not a regular file"),
    ]


N_CASES = 38


@pytest.mark.parametrize("i", range(N_CASES))
def test_every_broken_input_is_one_line_and_changes_nothing(existing, i, capsys, monkeypatch):
    """In-process (the CLI's main, as the console script calls it): one test per case, each can fail alone."""
    database = existing / "tiny.db"
    before = database.read_bytes()
    battery = cases(existing)
    assert len(battery) == N_CASES
    args, expected = battery[i]
    monkeypatch.chdir(existing)
    code, out, err = cli(capsys, *args)
    err = err.strip()
    assert code != 0, (args, out)
    assert len(err.splitlines()) == 1, (args, err)
    assert "Traceback" not in err and expected in err, (args, err)
    assert re.match(r"tuner( \w+)?: error: ", err), (args, err)
    assert database.read_bytes() == before, args  # the existing study is untouched
    assert sorted(p.name for p in existing.glob("*.db")) == ["tiny.db"]  # and no stray database appeared


@pytest.mark.parametrize("i", [0, 12, 26])  # broken TOML, a missing CSV, an unknown option
@pytest.mark.slow
def test_a_few_broken_inputs_through_the_real_console_script(existing, i):
    args, expected = cases(existing)[i]
    before = (existing / "tiny.db").read_bytes()
    done = subprocess.run([BIN / "tuner", *args], capture_output=True, text=True, timeout=120, cwd=existing)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and (existing / "tiny.db").read_bytes() == before


def test_export_of_a_study_without_a_complete_trial(existing, tmp_path):
    from tuner.tuning.runner import open_study

    path = tmp_path / "empty.toml"
    path.write_text(textwrap.dedent(GOOD).replace('name = "tiny"', 'name = "empty"'))
    open_study(load_study(path))
    done = subprocess.run([BIN / "tuner", "export", str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == ("tuner: error: study 'empty' has no complete trial yet: nothing to export; "
                                   "run `tuner tune` until one completes")
    done = subprocess.run([BIN / "tuner", "report", str(path), "-o", str(tmp_path / "r.html")], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and not (tmp_path / "r.html").exists()
    assert done.stderr.strip() == ("tuner: error: study 'empty' has no complete trial yet: nothing to report; "
                                   "run `tuner tune` until one completes")
