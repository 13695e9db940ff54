"""What `tuner predict --steps N` costs: seconds and milliseconds per step for growing N, on one model folder.

    python bench/steps.py MODEL_DIR DATA.csv [--steps 1000 3000 10000] [--paths 500]

Each N runs in a fresh process (as a user runs it), so the figures include start-up. Linear cost shows as a
flat ms-per-step column once N is large enough to hide the start.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("data")
    parser.add_argument("--steps", type=int, nargs="+", default=[1000, 3000, 10000])
    parser.add_argument("--paths", type=int, default=500)
    args = parser.parse_args()
    tuner = Path(sys.executable).parent / "tuner"
    print("| steps | paths | seconds | ms per step |\n|---|---|---|---|")
    for n in args.steps:
        started = time.perf_counter()
        subprocess.run([tuner, "predict", args.model, "--data", args.data, "--steps", str(n), "--paths",
                        str(args.paths), "-q", "-o", "/dev/null"], check=True, capture_output=True)
        seconds = time.perf_counter() - started
        print(f"| {n} | {args.paths} | {seconds:.1f} | {1000 * seconds / n:.2f} |", flush=True)


if __name__ == "__main__":
    main()
