"""The command line's arguments: the parser, with its usage errors as one line, and the types that bound each
number before anything runs. Which function each command calls is the command line's (cli.py)."""

from __future__ import annotations

import argparse
import math
import os
from typing import Any, NoReturn

from . import __version__
from .config.spec import STORAGE_ENV
from .forecast import MAX_PATHS, PATHS


def _count(minimum: int, maximum: int | None = None):
    """An argparse type: an integer in [minimum, maximum], refused before anything runs."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}, got {value}")
        return value
    return parse


def _float(text: str, expected: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {expected}, got {text!r}") from None


def _seconds(text: str) -> float:
    """An argparse type: a positive, finite number of seconds."""
    value = _float(text, "a number of seconds")
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _coverage(text: str) -> float:
    """An argparse type: a share strictly between 0 and 1 (0.9 for 90% intervals)."""
    value = _float(text, "a number between 0 and 1")
    if not 0 < value < 1:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (0.9 for 90% intervals), got {text!r}")
    return value


def _gamma(text: str) -> float:
    """An argparse type: adaptive conformal inference's step, 0 (fixed intervals) up to 0.5."""
    value = _float(text, "a number from 0 to 0.5")
    if not 0 <= value <= 0.5:  # also refuses NaN; a larger step swings the level from 0 to 1 in two errors
        raise argparse.ArgumentTypeError(f"must be from 0 (fixed intervals) to 0.5, got {text!r}")
    return value


MAX_WORKERS = 4 * (os.cpu_count() or 1)  # more processes than that only compete for the cores
MAX_STEPS = 10_000  # forecasts fed back one block at a time: far past any horizon a series supports


class Parser(argparse.ArgumentParser):
    """argparse, with its usage errors as one line like every other user error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="tuner", description="Tune small recurrent neural networks.")
    parser.add_argument("--version", action="version", version=f"tuner {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    _add_run_commands(sub)
    _add_model_commands(sub)
    _add_study_commands(sub)
    return parser


def _add_run_commands(sub: Any) -> None:
    """tune and worker: the commands that run trials."""
    tune = sub.add_parser("tune", help="run or resume a study")
    tune.add_argument("study", help="study file, e.g. studies/sunspots.toml")
    tune.add_argument("--n-trials", type=_count(1), help="total trials the study should reach (default: the file's)")
    tune.add_argument("--storage", help=f"Optuna storage URL (default: ${STORAGE_ENV}, else sqlite beside the study "
                      f"file)")
    tune.add_argument("--timeout", type=_seconds, help="stop starting new trials after this many seconds")
    tune.add_argument("--workers", type=_count(1, MAX_WORKERS), default=1,
                      help=f"worker processes on this machine (default 1, at most {MAX_WORKERS})")
    tune.add_argument("-q", "--quiet", action="store_true", help="no progress bar (there is none unless stderr "
                      "is a terminal)")
    tune.add_argument("--json", action="store_true", help="print the summary as JSON, for scripts")
    tune.add_argument("--dask", metavar="ADDRESS", help="run the trials on the Dask cluster at ADDRESS "
                      "(tcp://HOST:8786), or on a local one of N worker processes (local:N)")
    tune.add_argument("--dry-run", action="store_true", help="check everything, print the plan and a time "
                      "estimate, write nothing")
    tune.add_argument("--fresh", action="store_true",
                      help="start the study over: its old trials are kept as study NAME-N in the same storage")

    worker = sub.add_parser("worker", help="join a study as one more worker (another machine, say)")
    worker.add_argument("study", help="the study file")
    worker.add_argument("--storage", help=f"the shared storage URL, e.g. postgresql+psycopg2://user@host/db (better: "
                        f"set ${STORAGE_ENV}, which `ps` does not show)")
    worker.add_argument("--n-trials", type=_count(1), help="total trials the study should reach (default: the file's)")
    worker.add_argument("--timeout", type=_seconds, help="stop starting new trials after this many seconds")
    worker.add_argument("--worker-index", type=_count(0, 2**31), default=None,
                        help="seeds this worker's sampler (seed + index); default: the next free index of the study")


def _add_model_commands(sub: Any) -> None:
    """train, predict and diagnose: the commands that train a config or use a trained model."""
    train = sub.add_parser("train", help="retrain a config on all tuning data and score it on the test split")
    train.add_argument("config", nargs="+", help="an exported config (or a study file: its fixed settings); "
                       "several (tuner export --top K) train an ensemble that averages their forecasts")
    train.add_argument("-o", "--output", help="directory for model, metrics and predictions (default: runs/NAME)")
    train.add_argument("--json", action="store_true", help="print the metrics as JSON, for scripts")
    train.add_argument("--coverage", type=_coverage, default=0.9,
                       help="prediction intervals' coverage, from out-of-fold residuals (default 0.9)")
    train.add_argument("--gamma", type=_gamma, default=None,  # None: intervals.GAMMA (numpy not imported here)
                       help="how fast the intervals adapt to the errors seen from the test split on (adaptive "
                            "conformal inference; default 0.02, 0: fixed intervals)")
    train.add_argument("--no-blend", dest="blend", action="store_false",
                       help="the RNN alone, not combined with the study's ridge (the RNN's share is inverse to "
                            "their out-of-fold MSEs; docs/final-models.md)")
    train.add_argument("-q", "--quiet", action="store_true", help="no progress bar (there is none unless stderr "
                       "is a terminal)")
    train.add_argument("--refit", action="store_true",
                       help="after scoring on the test split, retrain the same recipe on every row (the test split "
                            "included) and save that model, to forecast the real future from all the data; the "
                            "test scores stay those of the model that did not see the test split")
    train.add_argument("--combine", metavar="ets,theta", default="",
                       help="the forecast is the plain mean of the RNN's and these statistical models' (ets, theta, "
                            "arima: statsforecast, pip install 'tuner[stats]'), each refitted at every window it "
                            "forecasts; they also join the comparison table (docs/m3.md). auto: those of ets and "
                            "theta (or the study's compare) whose mean with the RNN scores best out of fold")
    train.add_argument("--skip-failed", action="store_true",
                       help="with several configs: leave out one whose training fails (named in the output) "
                            "instead of stopping")
    train.add_argument("--workers", type=_count(1, MAX_WORKERS), default=1, metavar="N",
                       help="with several configs: train N of them at once in processes of their own (default 1)")

    predict = sub.add_parser("predict", help="forecast with a saved model")
    predict.add_argument("model_dir", help="a directory written by tuner train")
    predict.add_argument("--data", required=True, help="CSV laid out like the training data")
    predict.add_argument("-o", "--output", help="CSV to write (default: stdout)")
    predict.add_argument("--steps", type=_count(1, MAX_STEPS),
                         help="forecast this many values past the end of the data, feeding forecasts back "
                              "(default: one forecast per window)")
    predict.add_argument("--paths", type=_count(0, MAX_PATHS), default=PATHS,
                         help=f"--steps' intervals come from this many simulated futures (default {PATHS}; each "
                              f"costs about what the forecast itself does; 0: no intervals)")
    predict.add_argument("-q", "--quiet", action="store_true", help="no progress bar (there is none unless stderr "
                         "is a terminal)")

    diag = sub.add_parser("diagnose", help="train a config briefly per cell and show its gradients' flow")
    diag.add_argument("config", help="a study file or an exported config")
    diag.add_argument("--cells", default="rnn,lstm,gru", help="comma-separated cells (default: rnn,lstm,gru)")
    diag.add_argument("--epochs", type=_count(1, 10_000), default=5, help="epochs each trains (default 5)")
    diag.add_argument("-o", "--output", help="the PNG to write (default: runs/NAME-gradients.png)")


def _add_study_commands(sub: Any) -> None:
    """export, trials, dashboard and report: the commands that read a study, by file or by name."""
    def study_command(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.add_argument("study", help="study file (studies/NAME.toml) or study name")
        p.add_argument("--storage", help="Optuna storage URL (default: the study file's, or studies/NAME.db)")
        return p

    export = study_command("export", "write the best trial's config, ready for tuner train")
    export.add_argument("-o", "--output", help="file to write (default: NAME-best.toml)")
    export.add_argument("--format", choices=["toml", "json", "yaml"], help="default: from -o's suffix, else toml")
    export.add_argument("--top", type=int, default=1, help="the K best trials, one file each")
    export.add_argument("--sklearn", action="store_true",
                        help="write tuner.estimator.RNNRegressor's parameters (JSON) instead of a config")

    trials = study_command("trials", "write every trial as a CSV table")
    trials.add_argument("-o", "--output", help="CSV file to write (default: the table on stdout)")
    trials.add_argument("--json", action="store_true", help="JSON records instead of CSV")

    dash = study_command("dashboard", "browse a study in optuna-dashboard")
    dash.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    dash.add_argument("--port", type=_count(1, 65535), default=8080, help="default 8080")

    report = study_command("report", "one self-contained HTML report")
    report.add_argument("-o", "--output", help="default: NAME-report.html")
    report.add_argument("--metrics", help="a metrics.json from tuner train (default: runs/NAME-best/metrics.json)")


__all__ = ["MAX_STEPS", "MAX_WORKERS", "build_parser"]
