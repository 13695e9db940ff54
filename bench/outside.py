"""Real series the project never tuned on: does beating ridge on held-out data come from the method, or from
studies fitted to the shipped series? Each series is tried as a new user would (a CSV, a study file written
once from the README: the last 20% held out, a window of about two seasons, the default study's search plus
every data transform), then `tuner export --top 5` and `tuner train`, over several study seeds.

Series (from statsmodels' datasets, installed for this benchmark only: `make outside` does it):
  co2      Mauna Loa CO2, weekly 1958-2001 averaged to months (526; gaps interpolated): trend and a season.
  elnino   Pacific sea surface temperature, monthly 1950-2010 (732): a season and El Nino swings.
  unemp    US unemployment rate, quarterly 1959-2009 (203): seasonally adjusted, cycles.
  nile     Nile flow at Aswan, yearly 1871-1970 (100): short and noisy, a level shift.

Run: make outside   (writes runs/outside.md; about 15 minutes on 2 cores). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
from pathlib import Path

import optuna
import pandas as pd
from quality import coverage_cell, spread, tune_and_train  # bench/quality.py: the same pipeline and table cells

from tuner.nn import keep_freed_memory

SEARCH = {
    "learning_rate": {"low": 1e-3, "high": 3e-2, "log": True},
    "batch_size": [8, 16, 32],
    "hidden_units": {"low": 4, "high": 48, "log": True},
    "activation": ["tanh", "relu"],
    "optimizer": ["adam", "rmsprop", "momentum"],
    "cell": ["gru", "lstm", "rnn"],
    "momentum": {"low": 0.8, "high": 0.95},
    "weight_decay": {"low": 1e-6, "high": 1e-2, "log": True},
    "log": [False, True],
    "difference": [0, 1],
    "normalise": ["none", "last"],
}


def series(name: str) -> tuple[pd.DataFrame, int, int]:
    """The series as a CSV frame (time, value), its season (0: none) and a window of about two seasons."""
    from statsmodels import datasets

    if name == "co2":
        weekly = datasets.co2.load_pandas().data["co2"]
        monthly = weekly.resample("MS").mean()
        return pd.DataFrame({"time": monthly.index.strftime("%Y-%m"), "value": monthly.to_numpy()}), 12, 24
    if name == "elnino":
        wide = datasets.elnino.load_pandas().data
        long = wide.melt(id_vars="YEAR", var_name="month", value_name="value")
        months = {m: i for i, m in enumerate(wide.columns[1:], 1)}
        long["time"] = [f"{int(y)}-{months[m]:02d}" for y, m in zip(long["YEAR"], long["month"], strict=True)]
        return long.sort_values("time")[["time", "value"]], 12, 24
    if name == "unemp":
        macro = datasets.macrodata.load_pandas().data
        time = [f"{int(y)}-{3 * int(q) - 2:02d}-01" for y, q in zip(macro["year"], macro["quarter"], strict=True)]
        return pd.DataFrame({"time": time, "value": macro["unemp"]}), 4, 8
    if name == "nile":
        nile = datasets.nile.load_pandas().data
        return pd.DataFrame({"time": nile["year"].astype(int), "value": nile["volume"]}), 0, 10
    raise SystemExit(f"unknown series {name!r}")


def study_doc(name: str, csv: Path, season: int, window: int, seed: int, n_trials: int) -> dict:
    """The study a new user writes for the series from the README (nothing tuned to it)."""
    search = dict(SEARCH, highway=[0, window])
    if season:
        search["seasonal_difference"] = [0, season]
    data = {"path": str(csv), "target": "value", "time": "time", "missing": "interpolate", "window": window,
            "test_fraction": 0.2}
    if season:
        data["season"] = season
    return {"study": {"name": f"{name}_seed{seed}", "n_trials": n_trials, "seed": seed},
            "data": data, "cv": {"folds": 4},
            "train": {"cell": "gru", "epochs": 200, "patience": 20, "clip_norm": 1.0},
            "search": search}


def main() -> int:
    keep_freed_memory()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", default=["co2", "elnino", "unemp", "nile"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n-trials", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("-o", "--output", default="runs/outside.md")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    out = Path(args.output).parent / "outside"
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"Series outside the repository, {dt.date.today()}, {platform.machine()} with 2 cores, "
             f"--workers {args.workers}, {args.n_trials} trials, top 5 averaged; test RMSE, median (range) over "
             f"{args.seeds} study seeds", "",
             "| series | values | ours (blended) | without the blend | best trial alone | RNN's share | ridge "
             "| seasonal naive | persistence | beats ridge | 90% interval coverage (adapting; fixed width) "
             "| wall s |", "|---" * 12 + "|"]
    for name in args.names:
        frame, season, window = series(name)
        csv = (out / f"{name}.csv").resolve()
        frame.to_csv(csv, index=False)
        rows = []
        for seed in range(args.seeds):
            for old in out.glob(f"{name}_seed{seed}.db*"):
                old.unlink()  # a fresh study
            doc = study_doc(name, csv, season, window, seed, args.n_trials)
            row = tune_and_train(doc, f"{name}_seed{seed}", out, args.workers, 5, "rmse")
            rows.append(row)
            print(f"{name}@{seed}: test RMSE {row['ours']:.4g} (without the blend {row['plain']:.4g}, best trial "
                  f"alone {row['alone']:.4g}, ridge {row['baselines']['ridge']:.4g}; shares {row['weights']}) in "
                  f"{row['seconds']:.0f} s; best {row['params']}", flush=True)
        b = [r["baselines"] for r in rows]
        wins = sum(r["ours"] < r["baselines"]["ridge"] for r in rows)
        lines.append(f"| {name} | {len(frame)} | {spread([r['ours'] for r in rows], bold=True)} | "
                     f"{spread([r['plain'] for r in rows])} | {spread([r['alone'] for r in rows])} | "
                     f"{spread([w for r in rows for w in r['weights']], '.2f')} | {spread([x['ridge'] for x in b])} | "
                     f"{spread([x.get('seasonal naive') for x in b])} | {spread([x['persistence'] for x in b])} | "
                     f"{wins} of {len(rows)} | {coverage_cell(rows)} | "
                     f"{spread([r['seconds'] for r in rows], '.0f')} |")
    table = "\n".join(lines)
    Path(args.output).write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
