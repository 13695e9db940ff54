"""One study per series against one study over the panel, on the same M3 monthly series and the same protocol (the
18-step forecast from each series' origin, sMAPE and MASE as in bench/m3.py).

Per series, as the README allowed before many series: a CSV of that series (in-sample and test), a study with
test_size 18, horizon 1, a window of 12 and 2 folds, its trials, `tuner export --top 1`, `tuner train`, then
`tuner predict --steps 18` from the in-sample data (forecasts fed back from the origin). The panel's forecasts are
read from a `make m3` run's predictions.csv (runs/m3/m3-h18-seed0-best by default), so both columns score the same
series.

Run: python bench/per_series.py [--series 20] [--panel runs/m3/m3-h18-seed0-best]. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
from m3 import H, m3_monthly, mase, publish, smape  # bench/m3.py: the same data, metrics and tables


def one_study(key: str, x: np.ndarray, xx: np.ndarray, out: Path, trials: int) -> np.ndarray:
    """The per-series user's pipeline; returns the 18-step forecast from the origin."""
    import tomli_w

    from tuner.app.ensemble import train_ensemble
    from tuner.app.export import export
    from tuner.config.studyfile import load_study
    from tuner.forecast.predict import predict
    from tuner.tuning.runner import run

    folder = out / key
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"t": np.arange(1, len(x) + len(xx) + 1), "y": np.concatenate([x, xx])}).to_csv(
        folder / "data.csv", index=False)
    pd.DataFrame({"t": np.arange(1, len(x) + 1), "y": x}).to_csv(folder / "insample.csv", index=False)
    for old in folder.glob("*.db*"):
        old.unlink()
    doc = {"study": {"name": key, "n_trials": trials, "seed": 0},
           "data": {"dataset": "csv", "path": str(folder / "data.csv"), "time": "t", "target": "y", "test_size": H,
                    "window": 12, "season": 12},
           "cv": {"folds": 2, "gap": 0},  # horizon 1: no training target reaches a validation target
           "train": {"cell": "gru", "epochs": 60, "patience": 10},
           "search": {"learning_rate": {"low": 1e-3, "high": 3e-2, "log": True},
                      "hidden_units": {"low": 4, "high": 32, "log": True}, "cell": ["gru", "lstm"],
                      "log": [False, True], "normalise": ["none", "last"]}}
    path = folder / f"{key}.toml"
    path.write_text(tomli_w.dumps(doc))
    run(load_study(path), progress=False, workers=1)
    configs = export(str(path), str(folder / "best.toml"), top=1)
    train_ensemble([load_study(c) for c in configs], folder / "model")
    ahead = predict(folder / "model", folder / "insample.csv", steps=H, paths=0)
    return ahead["predicted"].to_numpy()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=20, help="M3 monthly series, evenly through the ids")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--panel", default="runs/m3/m3-h18-seed0-best", help="a make m3 run's trained folder")
    parser.add_argument("-o", "--output", default="runs/per_series.md")
    args = parser.parse_args()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    panel = pd.read_csv(Path(args.panel) / "predictions.csv", dtype={"series": str}).sort_values(["series", "step"])
    global_forecasts = {k: g["predicted"].to_numpy() for k, g in panel.groupby("series")}
    chosen = m3_monthly("all", args.series)
    rows, started = [], time.perf_counter()
    for key, x, xx in chosen:
        own = one_study(key, x, xx, Path("runs") / "per_series", args.trials)
        rows.append((key, smape(own, xx), smape(global_forecasts[key], xx), mase(own, xx, x),
                     mase(global_forecasts[key], xx, x)))
        print(f"{key}: sMAPE alone {rows[-1][1]:.2f}, in the panel {rows[-1][2]:.2f}", flush=True)
    seconds = time.perf_counter() - started
    own_s, pan_s = [r[1] for r in rows], [r[2] for r in rows]
    lines = [f"{len(rows)} M3 monthly series, 18 steps from the origin; one study each ({args.trials} trials, "
             f"{seconds:.0f} s in all) against one study over the 1,428-series panel ({args.panel})", "",
             "| | mean sMAPE | median sMAPE | mean MASE | series where it is better |", "|---|---|---|---|---|",
             f"| one study per series | {np.mean(own_s):.2f} | {statistics.median(own_s):.2f} | "
             f"{np.mean([r[3] for r in rows]):.3f} | {sum(a < b for a, b in zip(own_s, pan_s, strict=True))} |",
             f"| the panel, one global model | {np.mean(pan_s):.2f} | {statistics.median(pan_s):.2f} | "
             f"{np.mean([r[4] for r in rows]):.3f} | {sum(b < a for a, b in zip(own_s, pan_s, strict=True))} |"]
    publish(lines, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
