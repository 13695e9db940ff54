"""Command line: parse arguments, call one library function, map user errors to one line and exit code 2."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from .config.spec import STORAGE_ENV
from .errors import ConfigError, TunerError
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


def _seconds(text: str) -> float:
    """An argparse type: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _coverage(text: str) -> float:
    """An argparse type: a share strictly between 0 and 1 (0.9 for 90% intervals)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1, got {text!r}") from None
    if not 0 < value < 1:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (0.9 for 90% intervals), got {text!r}")
    return value


def _gamma(text: str) -> float:
    """An argparse type: adaptive conformal inference's step, 0 (fixed intervals) up to 0.5."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 0.5, got {text!r}") from None
    if not 0 <= value <= 0.5:  # also refuses NaN; a larger step swings the level from 0 to 1 in two errors
        raise argparse.ArgumentTypeError(f"must be from 0 (fixed intervals) to 0.5, got {text!r}")
    return value


MAX_WORKERS = 4 * (os.cpu_count() or 1)  # more processes than that only compete for the cores
MAX_STEPS = 10_000  # forecasts fed back one block at a time: far past any horizon a series supports


def _quiet_optuna() -> None:
    """Failed trials are summarised by reason at the end; Optuna would log each with a traceback. Called by the
    commands that use Optuna, after their cheap checks: importing it costs about a second."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)


def _tune(args: argparse.Namespace) -> int:
    from .config.studyfile import load_study

    spec = load_study(args.study)  # first: a broken study file is one line without loading Optuna or pandas
    _quiet_optuna()
    if args.dry_run:
        from threadpoolctl import threadpool_limits

        from .app.plan import plan_record, render

        with threadpool_limits(1):  # as a run trains
            record = plan_record(spec, spec.storage_url(args.storage), args.n_trials or spec.n_trials, args.workers)
        print(json.dumps(record, indent=2) if args.json else render(record))
        return 0
    from .app.summary import summary

    if args.dask:
        if args.fresh or args.workers > 1:
            raise ConfigError("--dask runs the trials on the cluster's workers: drop --workers (and run --fresh "
                              "without --dask first)")
        from .tuning.cluster import run_dask

        result = run_dask(spec, spec.storage_url(args.storage), args.n_trials or spec.n_trials, args.dask,
                          args.timeout, not args.quiet and sys.stderr.isatty())
    else:
        from .tuning.runner import run

        result = run(spec, n_trials=args.n_trials, storage=args.storage, timeout=args.timeout,
                     progress=not args.quiet and sys.stderr.isatty(), workers=args.workers, fresh=args.fresh)

    if args.json:
        from .app.summary import summary_json

        print(json.dumps(summary_json(result), indent=2))
    else:
        print(summary(result))
    if result.exit_code:
        print("stopped: every finished trial is stored; run the same command to resume", file=sys.stderr)
    return result.exit_code


def _worker(args: argparse.Namespace) -> int:
    from .config.studyfile import load_study

    spec = load_study(args.study)
    _quiet_optuna()
    from threadpoolctl import threadpool_limits

    from .tuning.runner import StopSignals, work

    target = args.n_trials or spec.n_trials
    with StopSignals() as stop, threadpool_limits(1):
        work(spec, spec.storage_url(args.storage), target, args.worker_index, args.timeout,
             stop)
    return stop.exit_code


def _export(args: argparse.Namespace) -> int:
    _quiet_optuna()
    from .app.export import export

    paths = export(args.study, args.output, args.storage, args.format, args.top, args.sklearn)
    for path in paths:
        print(f"wrote {path}")
    if len(paths) < args.top:
        print(f"(the study has {len(paths)} complete trial{'s' if len(paths) > 1 else ''}, fewer than --top "
              f"{args.top}: wrote {len(paths)})")
    if args.sklearn:
        print(f"next: RNNRegressor(**json.load(open({str(paths[0])!r}))) in Python (from tuner.estimator import "
              f"RNNRegressor)")
        return 0
    stem = Path(paths[0]).stem.removesuffix("-1") if len(paths) > 1 else Path(paths[0]).stem
    print(f"next: tuner train {' '.join(map(str, paths))} -o runs/{stem}"
          + ("   (one ensemble; or train any one alone)" if len(paths) > 1 else ""))
    return 0


def _train(args: argparse.Namespace) -> int:
    from .app.ensemble import final_work, train_ensemble
    from .app.export import writable
    from .config.studyfile import load_study

    specs = [load_study(path) for path in args.config]
    out = args.output or f"runs/{Path(args.config[0]).stem}"
    writable(out, folder=True)
    bar = None
    if not args.quiet and sys.stderr.isatty():  # as tune's: stderr, terminals only
        from tqdm import tqdm

        bar = tqdm(total=final_work(specs), desc="train", unit="epoch", file=sys.stderr, leave=False)
    try:
        result = train_ensemble(specs, out, args.coverage, blend=args.blend, gamma=args.gamma,
                                skip_failed=args.skip_failed, tick=bar.update if bar else None)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        files = {"folder": str(out), "metrics": f"{out}/metrics.json", "predictions": f"{out}/predictions.csv"}
        print(json.dumps({**files, **result.metrics}, indent=2))
        return 0
    print(result.table)
    if result.cleared:
        print(f"replaced what an earlier tuner train wrote to {out} ({', '.join(result.cleared)})")
    if len(specs) > 1:
        print(f"wrote {out}/member-1 .. member-{result.metrics['model']['members']} (a model each), "
              f"{out}/metrics.json, {out}/predictions.csv")
        return 0
    n = result.metrics["model"]["ensemble"]
    more = f" and model-1..{n - 1}.npz (an ensemble of {n})" if n > 1 else ""
    print(f"wrote {result.model_path} (+ model.json){more}, {out}/metrics.json, {out}/predictions.csv")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from .app.export import writable
    from .forecast.predict import predict

    if args.output:
        writable(args.output)
    frame = predict(args.model_dir, args.data, args.steps or 0, args.paths,
                    progress=not args.quiet and sys.stderr.isatty())
    if args.output:
        frame.to_csv(args.output, index=False)
        print(f"wrote {len(frame)} forecasts to {args.output}")
    else:
        print(frame.to_csv(index=False), end="")
    return 0


def _diagnose(args: argparse.Namespace) -> int:
    from .app.export import writable
    from .config.studyfile import load_study

    spec = load_study(args.config)
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    from .nn import CELLS

    unknown = [c for c in cells if c not in CELLS]
    if unknown or not cells:
        raise ConfigError(f"--cells must name cells among {', '.join(CELLS)}, got {args.cells!r}")
    output = args.output or f"runs/{spec.name}-gradients.png"
    writable(output)
    from threadpoolctl import threadpool_limits

    from .app.diagnose import diagnose, plot, table

    with threadpool_limits(1):
        found = diagnose(spec, cells, args.epochs)
    print(table(found))
    print(f"wrote {plot(found, Path(output), spec.name)}")
    return 0


def _trials(args: argparse.Namespace) -> int:
    _quiet_optuna()
    from .app.export import trials_table, writable

    if args.output:
        writable(args.output)
    table = trials_table(args.study, args.storage)
    if args.json:  # records, one object per trial; dates as ISO text
        text = table.to_json(orient="records", date_format="iso", indent=2)
        if not args.output:
            print(text)
            return 0
        Path(args.output).write_text(text + "\n")
        print(f"wrote {len(table)} trials to {args.output}")
        return 0
    if not args.output:  # a table on stdout, for pipes; never a file the user did not name
        print(table.to_csv(index=False), end="")
        return 0
    table.to_csv(args.output, index=False)
    print(f"wrote {len(table)} trials to {args.output}")
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    _quiet_optuna()
    from optuna_dashboard import run_server

    from .app.export import find_study
    from .redact import mask

    check_listen(args.host, args.port)
    _, _, url = find_study(args.study, args.storage)
    print(f"optuna-dashboard on {mask(url)}: http://{args.host}:{args.port}/  (Ctrl-C stops it)", flush=True)
    run_server(url, host=args.host, port=args.port)
    return 0


def _report(args: argparse.Namespace) -> int:
    _quiet_optuna()
    from .app.export import find_study, writable
    from .app.report import build_report

    if args.output:
        writable(args.output)
    study, spec, _ = find_study(args.study, args.storage)
    metrics = args.metrics or f"runs/{spec.name}-best/metrics.json"
    out = writable(args.output or f"{spec.name}-report.html")
    out.write_text(build_report(study, metrics))
    print(f"wrote {out}")
    return 0


def check_listen(host: str, port: int) -> None:
    """The dashboard's address, tried before the server starts: a port in use, or a host that is not this
    machine, is one line rather than a server's traceback."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"--host {host!r} is not an address of this machine ({exc}); use 127.0.0.1") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == 98:  # EADDRINUSE
                raise ConfigError(f"port {port} on {host} is in use; pick another with --port") from None
            raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}); --host must be an address of "
                              f"this machine, such as 127.0.0.1") from None


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
    tune.set_defaults(func=_tune)

    worker = sub.add_parser("worker", help="join a study as one more worker (another machine, say)")
    worker.add_argument("study", help="the study file")
    worker.add_argument("--storage", help=f"the shared storage URL, e.g. postgresql+psycopg2://user@host/db (better: "
                        f"set ${STORAGE_ENV}, which `ps` does not show)")
    worker.add_argument("--n-trials", type=_count(1), help="total trials the study should reach (default: the file's)")
    worker.add_argument("--timeout", type=_seconds, help="stop starting new trials after this many seconds")
    worker.add_argument("--worker-index", type=_count(0, 2**31), default=None,
                        help="seeds this worker's sampler (seed + index); default: the next free index of the study")
    worker.set_defaults(func=_worker)


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
    train.add_argument("--skip-failed", action="store_true",
                       help="with several configs: leave out one whose training fails (named in the output) "
                            "instead of stopping")
    train.set_defaults(func=_train)

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
    predict.set_defaults(func=_predict)

    diag = sub.add_parser("diagnose", help="train a config briefly per cell and show its gradients' flow")
    diag.add_argument("config", help="a study file or an exported config")
    diag.add_argument("--cells", default="rnn,lstm,gru", help="comma-separated cells (default: rnn,lstm,gru)")
    diag.add_argument("--epochs", type=_count(1, 10_000), default=5, help="epochs each trains (default 5)")
    diag.add_argument("-o", "--output", help="the PNG to write (default: runs/NAME-gradients.png)")
    diag.set_defaults(func=_diagnose)


def _add_study_commands(sub: Any) -> None:
    """export, trials, dashboard and report: the commands that read a study, by file or by name."""
    def study_command(name: str, help: str, func) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.add_argument("study", help="study file (studies/NAME.toml) or study name")
        p.add_argument("--storage", help="Optuna storage URL (default: the study file's, or studies/NAME.db)")
        p.set_defaults(func=func)
        return p

    export = study_command("export", "write the best trial's config, ready for tuner train", _export)
    export.add_argument("-o", "--output", help="file to write (default: NAME-best.toml)")
    export.add_argument("--format", choices=["toml", "json", "yaml"], help="default: from -o's suffix, else toml")
    export.add_argument("--top", type=int, default=1, help="the K best trials, one file each")
    export.add_argument("--sklearn", action="store_true",
                        help="write tuner.estimator.RNNRegressor's parameters (JSON) instead of a config")

    trials = study_command("trials", "write every trial as a CSV table", _trials)
    trials.add_argument("-o", "--output", help="CSV file to write (default: the table on stdout)")
    trials.add_argument("--json", action="store_true", help="JSON records instead of CSV")

    dash = study_command("dashboard", "browse a study in optuna-dashboard", _dashboard)
    dash.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    dash.add_argument("--port", type=_count(1, 65535), default=8080, help="default 8080")

    report = study_command("report", "one self-contained HTML report", _report)
    report.add_argument("-o", "--output", help="default: NAME-report.html")
    report.add_argument("--metrics", help="a metrics.json from tuner train (default: runs/NAME-best/metrics.json)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .nn import keep_freed_memory

    keep_freed_memory()  # a process-wide allocator setting: here, at the entry point, never in a library call
    try:
        return args.func(args)
    except TunerError as exc:
        print(f"tuner: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `tuner ... | head`: the reader has gone; end quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail again
        return 141  # 128 + SIGPIPE
    except OSError as exc:  # a file or folder the user named: unwritable, a full disk
        where = f" {exc.filename}" if exc.filename else ""
        print(f"tuner: error: cannot access{where}: {exc.strerror or exc}; check the path and free space",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
