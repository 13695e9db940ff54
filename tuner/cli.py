"""Command line: parse arguments, call one library function, map user errors to one line and exit code 2."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .arguments import build_parser
from .errors import ConfigError, TunerError


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

    from .tuning.control import StopSignals
    from .tuning.runner import work

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
    from .forecast.stats import partner_names

    specs = [load_study(path) for path in args.config]
    combine = partner_names(args.combine) if args.combine else ()
    out = args.output or f"runs/{Path(args.config[0]).stem}"
    writable(out, folder=True)
    bar = None
    if not args.quiet and sys.stderr.isatty():  # as tune's: stderr, terminals only
        from tqdm import tqdm

        bar = tqdm(total=final_work(specs, args.refit), desc="train", unit="epoch", file=sys.stderr, leave=False)
    try:
        result = train_ensemble(specs, out, args.coverage, blend=args.blend, gamma=args.gamma,
                                skip_failed=args.skip_failed, tick=bar.update if bar else None, refit=args.refit,
                                combine=combine, workers=args.workers)
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


COMMANDS = {"tune": _tune, "worker": _worker, "export": _export, "train": _train, "predict": _predict,
            "diagnose": _diagnose, "trials": _trials, "dashboard": _dashboard, "report": _report}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .nn import keep_freed_memory

    keep_freed_memory()  # a process-wide allocator setting: here, at the entry point, never in a library call
    try:
        return COMMANDS[args.command](args)
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
