"""The command line as people use it: pipes, hints that match what the next command accepts."""

import subprocess
import textwrap

import pytest
from conftest import BIN, TINY, cli

from tuner.summary import _kind


@pytest.fixture
def tuned(tmp_path, capsys):
    path = tmp_path / "tiny.toml"
    path.write_text(textwrap.dedent(TINY.format(name="tiny", n_trials=2, seed=0, epochs=3, startup=2, warmup=2,
                                                search="learning_rate = [0.01, 0.02]")))
    code, _, err = cli(capsys, "tune", path, "-q")
    assert code == 0, err
    return path


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly(tuned):
    """`tuner trials STUDY | head -1`: the reader goes away; no BrokenPipeError traceback."""
    done = subprocess.run(f"'{BIN / 'tuner'}' trials '{tuned}' | head -c 10", shell=True, capture_output=True,
                          text=True, timeout=120)
    assert done.stdout == "number,val" and "Traceback" not in done.stderr and "Error" not in done.stderr
    piped = subprocess.Popen([BIN / "tuner", "trials", str(tuned)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    piped.stdout.close()  # closed before tuner writes
    _, err = piped.communicate(timeout=120)
    assert piped.returncode in (0, 141) and b"Traceback" not in err


def test_a_format_that_contradicts_the_suffix_is_refused(tuned, tmp_path, capsys):
    code, _, err = cli(capsys, "export", tuned, "-o", tmp_path / "best.json", "--format", "yaml")
    assert code == 2
    assert err.strip() == (f"tuner: error: --format yaml does not match the output's suffix .json; name the file "
                           f"{tmp_path / 'best.yaml'} or drop --format")
    assert not (tmp_path / "best.json").exists()
    code, out, _ = cli(capsys, "export", tuned, "-o", tmp_path / "best.yml", "--format", "yaml")
    assert code == 0 and f"next: tuner train {tmp_path / 'best.yml'}" in out  # and that next command works
    assert cli(capsys, "train", tmp_path / "best.yml", "-o", tmp_path / "run")[0] == 0


def test_failures_are_grouped_by_kind_not_by_epoch():
    assert _kind("training diverged at epoch 7: training loss became nan") == "training diverged"
    assert _kind("training diverged at epoch 1: validation loss became inf") == "training diverged"
    assert _kind("OSError: [Errno 5] Input/output error (cv.py:80)") == "OSError"


def test_the_summary_suggests_the_export_the_readme_and_make_use(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the hint's runs/ folder is relative to where the user runs tuner
    path = tmp_path / "tiny.toml"
    path.write_text(textwrap.dedent(TINY.format(name="tiny", n_trials=1, seed=0, epochs=2, startup=2, warmup=2,
                                                search="learning_rate = [0.01]")))
    code, out, _ = cli(capsys, "tune", path, "-q")
    assert code == 0
    hint = next(line for line in out.splitlines() if line.startswith("export: "))
    assert hint.startswith(f"export: tuner export {path} -o runs/tiny-best.toml")
    command = hint.removeprefix("export: tuner ").split("   ")[0].split()
    stale = tmp_path / "runs" / "tiny-best-2.toml"  # from an earlier export, when the study had more trials
    stale.parent.mkdir()
    stale.write_text("old")
    code, out, _ = cli(capsys, *command)
    assert code == 0 and (tmp_path / "runs" / "tiny-best-1.toml").is_file()  # it runs as printed
    assert "fewer than --top 5: wrote 1" in out and not stale.exists()
