"""Cross-validation folds from scikit-learn: the same split for every trial."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import KFold, TimeSeriesSplit

from ..errors import DataError


def min_samples(scheme: str, folds: int, gap: int = 0) -> int:
    """The fewest samples the splitter accepts, and every larger count too.

    TimeSeriesSplit validates on blocks of n // (folds + 1) samples and needs n - gap - folds * block > 0. That
    holds for every n from (folds + 1) * gap + 1 on, and fails at n = (folds + 1) * gap, so this is the first
    count from which more data never fails (a few smaller counts pass, but a rule that refuses more rows than it
    accepts would mislead)."""
    if scheme == "time":
        return max(folds + 1, (folds + 1) * gap + 1)
    return folds


def make_folds(n: int, scheme: str, folds: int, gap: int = 0, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds over n samples in time order: "time" trains on the past only (TimeSeriesSplit, with `gap`
    samples left out before each validation block); "kfold" shuffles independent samples (seeded)."""
    need = min_samples(scheme, folds, gap)
    if n < need:
        what = f"{folds} time-series folds with a gap of {gap}" if scheme == "time" else f"{folds} folds"
        raise DataError(f"{n} training windows are too few for {what}: it needs at least {need}; use fewer folds, "
                        f"a shorter window, or more data")
    if scheme == "time":
        splitter = TimeSeriesSplit(n_splits=folds, gap=gap)
        return [(tr, va) for tr, va in splitter.split(np.arange(n))]
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(np.sort(tr), np.sort(va)) for tr, va in splitter.split(np.arange(n))]


def panel_folds(counts: list[int], folds: int, gap: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Time folds over several series' training windows (counts[s] windows of series s, in time order, stored
    series after series): in every series the same validation blocks counted back from its end, of as many
    windows as TimeSeriesSplit gives the shortest series that has any (at least one), each trained on the
    series' windows `gap` windows and more before it. This is TimeSeriesSplit's rule (with its test_size)
    applied per series, but a short series may have fewer windows than a block, or no training window of its
    own in a fold: a global model learns from the others. Positions into the concatenated windows."""
    block = max(1, min((n for n in counts if n > 0), default=0) // (folds + 1))
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = []
    for k in range(folds):
        starts = [n - (folds - k) * block for n in counts]  # each series' first validation window
        train = np.concatenate([o + np.arange(max(0, s - gap)) for o, s in zip(offsets, starts, strict=True)])
        val = np.concatenate([o + np.arange(max(0, s), max(0, s + block))
                              for o, s in zip(offsets, starts, strict=True)])
        if not len(train) or not len(val):
            raise DataError(f"fold {k + 1} of {folds} has no {'training' if not len(train) else 'validation'} window "
                            f"in any series (a gap of {gap} windows before validation blocks of {block}); lower the "
                            f"gap, the window or the folds")
        out.append((train.astype(int), val.astype(int)))
    return out
