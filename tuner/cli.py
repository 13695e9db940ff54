"""Command line: parse arguments, call one library function, map user errors to one line and exit code 2."""

from __future__ import annotations

import argparse
import sys

from .errors import TunerError


def _tune(args: argparse.Namespace) -> int:
    print(f"no study yet: tuning {args.study} arrives with the tuning service", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tuner", description="Tune small recurrent neural networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    tune = sub.add_parser("tune", help="run or resume a study")
    tune.add_argument("study", help="study file, e.g. studies/sunspots.toml")
    tune.set_defaults(func=_tune)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except TunerError as exc:
        print(f"tuner: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
