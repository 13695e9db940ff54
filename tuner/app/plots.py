"""The picture tuner train writes (forecast.png): the held-out test split (actual, forecast, interval band)
and the forecast past the end of the data with its widening band. matplotlib, imported only here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def _axis(times: pd.Series | np.ndarray) -> np.ndarray:
    """Times as matplotlib plots them: dates for dated series (written "1999-01"), numbers otherwise."""
    values = pd.Series(np.asarray(times, dtype=object))
    if all(isinstance(v, str) for v in values):
        return pd.to_datetime(values.astype(str)).to_numpy()
    return values.to_numpy(dtype=float)


def forecast_png(path: Path, history: pd.Series, test: pd.DataFrame, ahead: pd.DataFrame | None, coverage: float,
                 title: str) -> Path:
    """history: the series before the test split (indexed by time as written); test: predictions.csv's rows for
    one target one step ahead; ahead: forecast_ahead's rows (or None)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed, none opened
    import matplotlib.pyplot as plt

    panels = 2 if ahead is not None else 1
    fig, axes = plt.subplots(panels, 1, figsize=(10, 3.6 * panels), squeeze=False)
    band = f"{coverage:.0%} interval"
    ax = axes[0][0]
    shown = history.iloc[-2 * len(test):]  # as much history as test, twice: the forecast in context
    ax.plot(_axis(shown.index), shown.to_numpy(), color="0.55", lw=1, label="tuning data")
    x = _axis(test["time"])
    ax.fill_between(x, test["lower"], test["upper"], color="tab:blue", alpha=0.2, lw=0, label=band)
    ax.plot(x, test["actual"], color="black", lw=1.2, label="actual")
    ax.plot(x, test["predicted"], color="tab:blue", lw=1.4, label="forecast")
    ax.set_title(f"{title}: held-out test split, one step ahead")
    ax.legend(loc="upper left", fontsize=8, ncols=4)
    if ahead is not None:
        ax = axes[1][0]
        whole = pd.concat([history, test.set_index("time")["actual"]])
        recent = whole.iloc[-3 * len(ahead):]
        ax.plot(_axis(recent.index), recent.to_numpy(), color="black", lw=1.2, label="data")
        x = _axis(ahead["time"])
        ax.fill_between(x, ahead["lower"], ahead["upper"], color="tab:orange", alpha=0.25, lw=0, label=band)
        ax.plot(x, ahead["predicted"], color="tab:orange", lw=1.4, label="forecast, fed back")
        ax.set_title(f"past the end of the data: {len(ahead)} steps")
        ax.legend(loc="upper left", fontsize=8, ncols=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def panel_png(path: Path, shown: list[tuple[str, pd.Series, pd.DataFrame]], coverage: float, title: str) -> Path:
    """A panel's picture: for each (series id, history, test forecasts) one row, the held-out test split with its
    band after as much history as twice its length."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(shown), 1, figsize=(10, 3.0 * len(shown)), squeeze=False)
    for ax, (key, history, test), rank in zip(axes[:, 0], shown, ("best", "median", "worst"), strict=False):
        recent = history.iloc[-max(2 * len(test), 24):]
        ax.plot(_axis(recent.index), recent.to_numpy(), color="0.55", lw=1, label="tuning data")
        x = _axis(test["time"])
        ax.fill_between(x, test["lower"], test["upper"], color="tab:blue", alpha=0.2, lw=0,
                        label=f"{coverage:.0%} interval")
        ax.plot(x, test["actual"], color="black", lw=1.2, label="actual")
        ax.plot(x, test["predicted"], color="tab:blue", lw=1.4, label="forecast")
        ax.set_title(f"{title}: series {key} ({rank} MASE of the test split)" if len(shown) == 3 else
                     f"{title}: series {key}")
        ax.legend(loc="upper left", fontsize=8, ncols=4)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


__all__ = ["forecast_png", "panel_png"]
