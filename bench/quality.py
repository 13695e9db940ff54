"""Model quality against published results: the real pipeline (study file -> tune -> export -> train -> test
score) on classic series, our result printed beside the published figures and our own baselines.

Cases (studies/<name>.toml):
  sunspots_zhang  Zhang (2003) split, test MSE on 1921-1987. ARIMA 306.08, ANN 351.19, hybrid 280.16.
  airline         Box & Jenkins series G, last 48 months, test RMSE. Tutorial LSTM 47.53, persistence 48.04,
                  OLS AR(13) about 14.3; target within 1.3x of AR(13).
  adding          adding problem at T=100, test MSE. Always predicting 1: 0.167; target LSTM/GRU < 0.01.
Also the adding problem with a vanilla tanh RNN (cell fixed to rnn), to show where it stays, and the Zhang case
again with study seeds 1 and 2 (`sunspots_zhang@1`): one seed's result could be luck, three show the spread.

Run: make quality   (fixed seeds; --workers 2; writes runs/quality.md). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import time
from pathlib import Path

import optuna
import tomli_w

from tuner.export import export
from tuner.final import train_ensemble
from tuner.nn import keep_freed_memory
from tuner.study import run
from tuner.studyfile import load_study, to_doc

PUBLISHED = {
    "sunspots_zhang": ("test MSE", "mse", "ARIMA 306.08; ANN 351.19; hybrid 280.16"),
    "sunspots_zhang@1": ("test MSE", "mse", "(study seed 1)"),
    "sunspots_zhang@2": ("test MSE", "mse", "(study seed 2)"),
    "airline": ("test RMSE", "rmse", "tutorial LSTM 47.53; AR(13) ~14.3 (target <= 18.6)"),
    "adding": ("test MSE", "mse", "predict 1: 0.167; target < 0.01"),
    "adding_rnn": ("test MSE", "mse", "vanilla RNN: near 0.167 expected"),
}


# the final model averages the top K trials' models (tuner export --top K; tuner train with the K configs)
TOP = {"sunspots_zhang": 10}


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
    stem = doc["study"].get("name") or name
    path = out / f"{stem}.toml"  # worker processes read the study from a file
    path.write_text(tomli_w.dumps(doc))
    spec = load_study(path)
    started = time.perf_counter()
    result = run(spec, progress=False, workers=workers)
    top = TOP.get(base, 1)
    configs = export(str(path), str(out / f"{stem}-best.toml"), top=top)
    final = train_ensemble([load_study(c) for c in configs], out / f"{stem}-best")
    seconds = time.perf_counter() - started
    label, key, published = PUBLISHED[name]
    m = final.metrics
    alone = m["members"][0]["test"][key] if "members" in m else m["test"][key]
    return {"case": name, "metric": label, "ours": m["test"][key], "alone": alone, "top": top,
            "published": published,
            "baselines": {b: s[key] for b, s in m["baselines"].items()}, "cv": result.study.best_value,
            "params": result.study.best_params, "seconds": seconds, "trials": len(result.study.trials)}


def main() -> int:
    keep_freed_memory()  # as the CLI does: the engine's speed figures assume it
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", default=list(PUBLISHED))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--n-trials", type=int, help="override every study's n_trials (quick runs)")
    parser.add_argument("-o", "--output", default="runs/quality.md")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    out = Path(args.output).parent / "quality"
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.cases:
        for old in out.glob(f"{name.replace('@', '_seed')}.db*"):
            old.unlink()  # a fresh study (same seeds; with 2 workers trials may still finish in another order)
        rows.append(case(name, out, args.workers, args.n_trials))
        print(f"{name}: {rows[-1]['metric']} {rows[-1]['ours']:.4g} in {rows[-1]['seconds']:.0f} s", flush=True)
    lines = [f"Quality benchmark, {dt.date.today()}, {platform.machine()} with 2 cores, --workers {args.workers}",
             "", "| case | metric | ours | best trial alone | published | persistence | mean | ridge (AR) | trials "
             "| wall s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        b = r["baselines"]
        fmt = lambda v: f"{v:.4g}" if v is not None else "-"  # noqa: E731
        ours = f"**{r['ours']:.4g}**" + (f" (mean of top {r['top']})" if r["top"] > 1 else "")
        lines.append(f"| {r['case']} | {r['metric']} | {ours} | {fmt(r['alone'])} | {r['published']} | "
                     f"{fmt(b.get('persistence'))} | {fmt(b.get('mean'))} | {fmt(b.get('ridge'))} | {r['trials']} | "
                     f"{r['seconds']:.0f} |")
    table = "\n".join(lines)
    Path(args.output).write_text(table + "\n\nBest parameters:\n" + "\n".join(
        f"- {r['case']}: {r['params']}" for r in rows) + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
