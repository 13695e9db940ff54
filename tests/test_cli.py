"""The command line as people use it: pipes, hints that match what the next command accepts."""

import json
import subprocess
import textwrap

import pandas as pd
import pytest
from conftest import BIN, TINY, cli

from tuner.app.summary import _kind


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


@pytest.mark.slow
def test_no_progress_bar_without_a_terminal(tmp_path):
    """Under a script or CI (stderr is a file), tune prints its summary and nothing else: no bar, no repeated
    100% lines."""
    path = tmp_path / "tiny.toml"
    path.write_text(textwrap.dedent(TINY.format(name="tiny", n_trials=2, seed=0, epochs=2, startup=2, warmup=2,
                                                search="learning_rate = [0.01, 0.02]")))
    done = subprocess.run([BIN / "tuner", "tune", str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stderr == "" and "study 'tiny': 2 trials" in done.stdout


def test_json_summaries_for_scripts(tuned, tmp_path, capsys):
    code, out, _ = cli(capsys, "tune", tuned, "--json", "--n-trials", "3")
    doc = json.loads(out)
    assert code == 0 and doc["trials"] == 3 and doc["ran"] == 1 and doc["states"] == {"complete": 3}
    assert doc["best"]["value"] == pytest.approx(min(json.loads(cli(capsys, "trials", tuned, "--json")[1]),
                                                     key=lambda t: t["value"])["value"])
    assert set(doc["best"]["baselines"]) == {"persistence", "mean", "ridge"} and not doc["failures"]
    code, out, _ = cli(capsys, "trials", tuned, "--json")
    assert code == 0 and [t["number"] for t in json.loads(out)] == [0, 1, 2]
    cli(capsys, "export", tuned, "-o", tmp_path / "best.toml")
    code, out, _ = cli(capsys, "train", tmp_path / "best.toml", "-o", tmp_path / "run", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["test"]["rmse"] > 0 and doc["intervals"]["coverage"] == 0.9
    assert doc["metrics"] == f"{tmp_path / 'run'}/metrics.json"


def test_dry_run_plans_and_writes_nothing(tuned, tmp_path, capsys):
    """A new study: no database appears. An existing one: its bytes do not change, and a changed meaning is
    refused as tune would refuse it."""
    fresh = tmp_path / "plan.toml"
    fresh.write_text(tuned.read_text().replace('name = "tiny"', 'name = "plan"'))
    code, out, _ = cli(capsys, "tune", fresh, "--dry-run", "--workers", "2")
    assert code == 0 and not (tmp_path / "plan.db").exists()
    for text in ("# the study, every default filled in", "[train]", "# the data", "fold 1: trains on",
                 "test split: ", "# the search", "learning_rate: one of [0.01, 0.02]", "ms an epoch",
                 "2 workers", "dry run: nothing was written to sqlite:///"):
        assert text in out, text
    assert "path = " not in out and "length = " not in out  # a sine study reads no file, makes no sequences
    database = tmp_path / "tiny.db"
    before = database.read_bytes()
    code, out, _ = cli(capsys, "tune", tuned, "--dry-run")
    assert code == 0 and database.read_bytes() == before
    tuned.write_text(tuned.read_text().replace("window = 8", "window = 9"))
    code, _, err = cli(capsys, "tune", tuned, "--dry-run")
    assert code == 2 and "data.window was 8, now 9" in err and database.read_bytes() == before


def test_dry_run_json_is_the_plan_as_json(tuned, tmp_path, capsys):
    code, out, _ = cli(capsys, "tune", tuned, "--dry-run", "--json", "--workers", "2")
    assert code == 0
    record = json.loads(out)
    assert record["study"]["data"]["window"] == 8 and len(record["data"]["folds"]) == 2
    assert record["search"] == {"learning_rate": {"choices": [0.01, 0.02]}}
    assert record["estimate"]["workers"] == 2 and record["estimate"]["study_seconds"] > 0
    assert record["storage"].startswith("sqlite:///") and record["written"] is False


@pytest.mark.parametrize("targets", [["a"], ["a", "b"]])
def test_target_as_a_list_tunes_trains_and_predicts(tmp_path, capsys, targets):
    """The documented multi-target form, `target = [...]`, even with one column and no [search]."""
    import numpy as np

    t = np.arange(120)
    rows = "".join(f"{i},{np.sin(i / 4):.6f},{np.cos(i / 5):.6f}\n" for i in t)
    (tmp_path / "two.csv").write_text("step,a,b\n" + rows)
    study = tmp_path / "two.toml"
    study.write_text(f'[study]\nn_trials = 1\n[data]\npath = "{tmp_path / "two.csv"}"\ntime = "step"\n'
                     f"target = {json.dumps(targets)}\nwindow = 6\n[cv]\nfolds = 2\n[train]\nepochs = 2\n")
    code, _, err = cli(capsys, "tune", study, "-q")
    assert code == 0, err
    code, _, err = cli(capsys, "train", study, "-o", tmp_path / "run")
    assert code == 0, err
    import pandas as pd

    frame = pd.read_csv(tmp_path / "run" / "predictions.csv")
    if len(targets) > 1:
        assert sorted(frame["target"].unique()) == targets
    assert len(frame) == 24 * len(targets)


def test_an_ensemble_names_the_config_that_failed_and_can_leave_it_out(tuned, tmp_path, capsys):
    """One of three configs diverges: without --skip-failed the run stops naming that file and trial; with it,
    the other two are trained as member-1 and member-2 and the table says which was left out."""
    code, _, err = cli(capsys, "export", tuned, "-o", tmp_path / "best.toml", "--top", "2")
    assert code == 0, err
    bad = tmp_path / "best-3.toml"
    text = (tmp_path / "best-2.toml").read_text()
    assert "learning_rate = " in text and "clip_norm = 1.0" in text
    bad.write_text(text.replace("learning_rate = ", "learning_rate = 1e6 #", 1).replace("clip_norm = 1.0",
                                                                                        "clip_norm = 0.0"))
    configs = [tmp_path / "best-1.toml", bad, tmp_path / "best-2.toml"]
    code, _, err = cli(capsys, "train", *configs, "-o", tmp_path / "run")
    assert code == 2 and err.startswith(f"tuner: error: config {bad} (trial ") and "training diverged" in err
    assert "--skip-failed" in err and len(err.strip().splitlines()) == 1
    code, out, err = cli(capsys, "train", *configs, "-o", tmp_path / "run", "--skip-failed")
    assert code == 0, err
    assert f"left out (--skip-failed): {bad} (trial " in out and "member-1 .. member-2" in out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["model"]["members"] == 2 and len(metrics["dropped"]) == 1
    assert sorted(p.name for p in (tmp_path / "run").glob("member-*")) == ["member-1", "member-2"]
    # two at a time in processes of their own: the same members, the same numbers, the same line when one fails
    code, out, err = cli(capsys, "train", *configs, "-o", tmp_path / "two", "--skip-failed", "--workers", "2")
    assert code == 0, err
    assert json.loads((tmp_path / "two" / "metrics.json").read_text())["test"] == metrics["test"]
    for member in ("member-1", "member-2"):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "two" / member / "predictions.csv"),
                                      pd.read_csv(tmp_path / "run" / member / "predictions.csv"))
    code, _, err = cli(capsys, "train", *configs, "-o", tmp_path / "three", "--workers", "2")
    assert code == 2 and err.startswith(f"tuner: error: config {bad} (trial ") and len(err.strip().splitlines()) == 1


def test_a_final_recipe_of_one_epoch_is_said_in_words(tuned, tmp_path, capsys):
    """The last fold was best after epoch 1: the final model trains one epoch, and the table says so."""
    import tomllib

    import tomli_w

    cli(capsys, "export", tuned, "-o", tmp_path / "best.toml")
    doc = tomllib.loads((tmp_path / "best.toml").read_text())
    doc["provenance"]["cv_best_epochs"] = [3, 1]
    (tmp_path / "one.toml").write_text(tomli_w.dumps(doc))
    code, out, err = cli(capsys, "train", tmp_path / "one.toml", "-o", tmp_path / "run")
    assert code == 0, err
    assert "trained 1 epochs" in out and "the final model trains 1 epoch only (its trial's last fold was best" in out
    code, out, _ = cli(capsys, "train", tmp_path / "best.toml", "-o", tmp_path / "run")
    assert code == 0 and "epoch only" not in out


def on_a_terminal(args: list[str]) -> tuple[int, bytes]:
    """Run tuner with stderr on a pseudo-terminal (120 columns): (exit code, what the terminal showed)."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import termios

    main, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen([BIN / "tuner", *map(str, args)], stdout=subprocess.DEVNULL, stderr=side)
    os.close(side)
    shown = b""
    while select.select([main], [], [], 120)[0]:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the process closed its side
            break
        if not chunk:
            break
        shown += chunk
    return proc.wait(timeout=120), shown


@pytest.mark.slow
def test_train_and_predict_steps_show_progress_on_a_terminal_only(tuned, tmp_path, capsys):
    cli(capsys, "export", tuned, "-o", tmp_path / "best.toml", "--top", "2")
    configs = [tmp_path / "best-1.toml", tmp_path / "best-2.toml"]
    code, shown = on_a_terminal(["train", *configs, "-o", tmp_path / "run"])
    assert code == 0 and b"train: " in shown and b"epoch" in shown
    data = tmp_path / "new.csv"
    import numpy as np

    data.write_text("value\n" + "".join(f"{np.sin(i / 4):.4f}\n" for i in range(40)))
    code, shown = on_a_terminal(["predict", tmp_path / "run", "--data", data, "--steps", "50", "-o",
                                 tmp_path / "ahead.csv"])
    assert code == 0 and b"--steps: " in shown and b"block" in shown
    code, shown = on_a_terminal(["train", configs[0], "-o", tmp_path / "run", "-q"])  # one config says as much
    assert code == 0 and b"train: " not in shown
    piped = subprocess.run([BIN / "tuner", "train", str(configs[0]), "-o", str(tmp_path / "run")],
                           capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0 and piped.stderr == ""
