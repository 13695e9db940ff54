"""Model quality against published results and a linear model: the real pipeline (study file -> tune ->
export -> train -> test score) on classic series, each case over several study seeds, the median and the
range printed beside the published figures and our own baselines.

Cases (studies/<name>.toml), three study seeds each unless noted:
  sunspots        the default study (make tune && make train): test RMSE on 1947-2008 against ridge.
  sunspots_zhang  Zhang (2003) split, test MSE on 1921-1987. ARIMA 306.08, ANN 351.19, hybrid 280.16.
  airline         Box & Jenkins series G, last 48 months, test RMSE. Tutorial LSTM 47.53, persistence 48.04,
                  OLS AR(13) about 14.3.
  adding          adding problem at T=100, test MSE (one seed). Always predicting 1: 0.167; target < 0.01.
  adding_rnn      the same with the cell fixed to a vanilla tanh RNN (one seed), to show where it stays.
A case NAME@SEED runs one seed. A study seed changes the folds' model seeds, the sampler's draws and the final
models' seeds; with 2 workers the trials also finish in another order from run to run.

Run: make quality   (--workers 2; writes runs/quality.md). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import time
from pathlib import Path

import optuna
import tomli_w

from tuner.app.ensemble import train_ensemble
from tuner.app.export import export
from tuner.config.studyfile import load_study, to_doc
from tuner.nn import keep_freed_memory
from tuner.tuning.runner import run

PUBLISHED = {
    "sunspots": ("test RMSE", "rmse", "(ridge on the same split is the bar)"),
    "sunspots_zhang": ("test MSE", "mse", "ARIMA 306.08; ANN 351.19; hybrid 280.16"),
    "airline": ("test RMSE", "rmse", "tutorial LSTM 47.53; AR(13) ~14.3"),
    "adding": ("test MSE", "mse", "predict 1: 0.167; target < 0.01"),
    "adding_rnn": ("test MSE", "mse", "vanilla RNN: near 0.167 expected"),
}
SEEDS = {"sunspots": 3, "sunspots_zhang": 3, "airline": 3, "adding": 1, "adding_rnn": 1}

# the final model averages the top K trials' models (tuner export --top K; tuner train with the K configs),
# as `make train` does (TOP=5); the Zhang study ranks 40 close trials, so it averages more of them
TOP = {"sunspots": 5, "airline": 5, "sunspots_zhang": 10}


def case(name: str, out: Path, workers: int, n_trials: int | None) -> dict:
    base, _, seed = name.partition("@")
    doc = to_doc(load_study(f"studies/{base.removesuffix('_rnn')}.toml"))
    if seed:  # the same study with another study seed: other folds' seeds, sampler draws, final seeds
        doc["study"].update(name=name.replace("@", "_seed"), seed=int(seed))
    if name == "adding_rnn":  # the same study with the cell fixed to a vanilla tanh RNN
        doc["study"].update(name=name, n_trials=6)
        doc["train"]["cell"] = "rnn"
        doc["search"].pop("cell")
    if n_trials:
        doc["study"]["n_trials"] = n_trials
    label, key, published = PUBLISHED[base]
    row = tune_and_train(doc, doc["study"].get("name") or name, out, workers, TOP.get(base, 1), key)
    return {"case": name, "metric": label, "published": published, **row}


def tune_and_train(doc: dict, stem: str, out: Path, workers: int, top: int, key: str) -> dict:
    """The user's pipeline on one study document: tune, export the top `top` trials, train them on all tuning
    data, score on the test split. Returns the test score (`key`: rmse or mse), the best trial's model alone,
    the baselines, the interval coverage and the run's facts."""
    path = out / f"{stem}.toml"  # worker processes read the study from a file
    path.write_text(tomli_w.dumps(doc))
    spec = load_study(path)
    started = time.perf_counter()
    result = run(spec, progress=False, workers=workers)
    configs = export(str(path), str(out / f"{stem}-best.toml"), top=top)
    final = train_ensemble([load_study(c) for c in configs], out / f"{stem}-best")
    seconds = time.perf_counter() - started
    plain = train_ensemble([load_study(c) for c in configs], out / f"{stem}-plain", blend=False).metrics
    m = final.metrics
    alone = plain["members"][0]["test"][key] if "members" in plain else plain["test"][key]
    each = [m] if "members" not in m else [json.loads((out / f"{stem}-best" / x["dir"] / "metrics.json").read_text())
                                           for x in m["members"]]
    weights = [x["blend"]["weight"] for x in each if "blend" in x]  # the RNN's share in each config's blend
    return {"ours": m["test"][key], "alone": alone, "top": top, "plain": plain["test"][key], "weights": weights,
            "baselines": {b: s[key] for b, s in m["baselines"].items()}, "cv": result.study.best_value,
            "params": result.study.best_params, "seconds": seconds,
            "trials": len(result.study.trials),
            "coverage": m["intervals"]["test_coverage"] if "intervals" in m else None,
            "fixed": m["intervals"].get("fixed_test_coverage") if "intervals" in m else None}


def coverage_cell(rows: list[dict]) -> str:
    """The test coverage of the intervals as written (adapting) and, after it, at the nominal width throughout."""
    fixed = spread([r.get("fixed") for r in rows], ".1%")
    return spread([r["coverage"] for r in rows], ".1%") + (f"; fixed width {fixed}" if fixed != "-" else "")


def spread(values: list, fmt: str = ".4g", bold: bool = False) -> str:
    """The median and, over several values, the range: '**265.1** (263.9-269.7)'."""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    mid = f"{statistics.median(values):{fmt}}"
    mid = f"**{mid}**" if bold else mid
    return mid if len(values) == 1 else f"{mid} ({min(values):{fmt}}-{max(values):{fmt}})"


def main() -> int:
    keep_freed_memory()  # as the CLI does: the engine's speed figures assume it
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", default=list(PUBLISHED),
                        help="case names; NAME@SEED for one study seed (default: every case, its seeds)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--n-trials", type=int, help="override every study's n_trials (quick runs)")
    parser.add_argument("-o", "--output", default="runs/quality.md")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    out = Path(args.output).parent / "quality"
    out.mkdir(parents=True, exist_ok=True)
    groups: dict[str, list[dict]] = {}
    for case_name in args.cases:
        base, _, one = case_name.partition("@")
        for seed in ([int(one)] if one else range(SEEDS.get(base, 1))):
            name = base if seed == 0 else f"{base}@{seed}"
            for old in out.glob(f"{name.replace('@', '_seed')}.db*"):
                old.unlink()  # a fresh study
            row = case(name, out, args.workers, args.n_trials)
            groups.setdefault(base, []).append(row)
            print(f"{name}: {row['metric']} {row['ours']:.4g} (without the blend {row['plain']:.4g}, best trial alone "
                  f"{row['alone']:.4g}, shares {row['weights']}, ridge "
                  f"{row['baselines'].get('ridge', float('nan')):.4g}) in {row['seconds']:.0f} s", flush=True)
    lines = [f"Quality benchmark, {dt.date.today()}, {platform.machine()} with 2 cores, --workers {args.workers}; "
             "median (range) over study seeds", "",
             "| case | metric | seeds | ours (blended) | without the blend | best trial alone | RNN's share "
             "| published | persistence | mean | ridge (AR) | beats ridge "
             "| 90% interval coverage (adapting; fixed width) | trials | wall s |",
             "|---" * 15 + "|"]
    for base, rows in groups.items():
        b = [r["baselines"] for r in rows]
        top = rows[0]["top"]
        ours = spread([r["ours"] for r in rows], bold=True) + (f" (mean of top {top})" if top > 1 else "")
        wins = sum(r["ours"] < r["baselines"]["ridge"] for r in rows if "ridge" in r["baselines"])
        shares = spread([w for r in rows for w in r["weights"]], ".2f")
        lines.append(f"| {base} | {rows[0]['metric']} | {len(rows)} | {ours} | {spread([r['plain'] for r in rows])} | "
                     f"{spread([r['alone'] for r in rows])} | {shares} | "
                     f"{rows[0]['published']} | {spread([x.get('persistence') for x in b])} | "
                     f"{spread([x.get('mean') for x in b])} | {spread([x.get('ridge') for x in b])} | "
                     f"{wins} of {len(rows)} | {coverage_cell(rows)} | {rows[0]['trials']} | "
                     f"{spread([r['seconds'] for r in rows], '.0f')} |")
    rows = [r for rs in groups.values() for r in rs]
    table = "\n".join(lines)
    Path(args.output).write_text(table + "\n\nEach run:\n" + "\n".join(
        f"- {r['case']}: {r['metric']} {r['ours']:.4g}, best trial alone {r['alone']:.4g}, ridge "
        f"{r['baselines'].get('ridge', float('nan')):.4g}; best params {r['params']}" for r in rows) + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
