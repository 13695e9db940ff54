"""Command line: parse arguments, call one library function, map user errors to one line and exit code 2."""

from __future__ import annotations

import argparse
import sys

from .errors import TunerError


def _tune(args: argparse.Namespace) -> int:
    from .config import load_study
    from .study import run, summary

    spec = load_study(args.study)
    result = run(spec, n_trials=args.n_trials, storage=args.storage, timeout=args.timeout,
                 progress=not args.quiet)
    print(summary(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tuner", description="Tune small recurrent neural networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    tune = sub.add_parser("tune", help="run or resume a study")
    tune.add_argument("study", help="study file, e.g. studies/sunspots.toml")
    tune.add_argument("--n-trials", type=int, help="total trials the study should reach (default: the file's)")
    tune.add_argument("--storage", help="Optuna storage URL (default: sqlite beside the study file)")
    tune.add_argument("--timeout", type=float, help="stop starting new trials after this many seconds")
    tune.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    tune.set_defaults(func=_tune)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return args.func(args)
    except TunerError as exc:
        print(f"tuner: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
