"""What the gradient diagnostics cost a trial: cross-validation as every trial runs it, against the same with
the diagnostics taken out (no per-step norm log, no flow profile), in alternation on the same configs.

Prints per-config seconds both ways and the overhead's median and range.
Run: python bench/diagnostics.py [--rounds N] [STUDY ...]   (default: the Zhang study's and the default study's
fixed settings with a GRU of 16 units)
"""

from __future__ import annotations

import argparse
import statistics
import time

from threadpoolctl import threadpool_limits

from tuner.config.studyfile import load_study
from tuner.data.prepare import prepare
from tuner.evaluate.cv import cross_validate
from tuner.nn import keep_freed_memory


def timed(spec, prepared, diagnostics: bool) -> float:
    started = time.perf_counter()
    cross_validate(spec, prepared, trial_number=0, diagnose=diagnostics)
    return time.perf_counter() - started


def main() -> int:
    keep_freed_memory()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("studies", nargs="*", default=["studies/sunspots_zhang.toml", "studies/sunspots.toml"])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print("| study | models per trial | with diagnostics, s | without, s | overhead, median | range |")
    print("|---|---|---|---|---|---|")
    for path in args.studies:
        spec = load_study(path).with_params({"cell": "gru", "hidden_units": 16, "batch_size": 16})
        prepared = prepare(spec.data, spec.cv, spec.seed)
        with threadpool_limits(1):
            timed(spec, prepared, True)  # warm up
            pairs = []
            for _ in range(args.rounds):  # alternating, so the machine's drift hits both alike
                on, off = timed(spec, prepared, True), timed(spec, prepared, False)
                pairs.append((on, off))
        ratios = [on / off - 1 for on, off in pairs]
        print(f"| {spec.name} | {len(prepared.folds) * spec.train.ensemble} | "
              f"{statistics.median(p[0] for p in pairs):.3f} | {statistics.median(p[1] for p in pairs):.3f} | "
              f"{statistics.median(ratios):+.1%} | {min(ratios):+.1%} .. {max(ratios):+.1%} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
