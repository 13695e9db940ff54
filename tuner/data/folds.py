"""Cross-validation folds from scikit-learn: the same split for every trial."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import KFold, TimeSeriesSplit

from ..errors import DataError


def make_folds(n: int, scheme: str, folds: int, gap: int = 0, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds over n samples in time order: "time" trains on the past only (TimeSeriesSplit, with `gap`
    samples left out before each validation block); "kfold" shuffles independent samples (seeded)."""
    if scheme == "time":
        if n < folds + 1 + gap:
            raise DataError(f"{n} training windows are too few for {folds} time-series folds with a gap of {gap}: "
                            f"need at least {folds + 1 + gap}; use fewer folds, a shorter window, or more data")
        splitter = TimeSeriesSplit(n_splits=folds, gap=gap)
        return [(tr, va) for tr, va in splitter.split(np.arange(n))]
    if n < folds:
        raise DataError(f"{n} training samples are too few for {folds} folds; use fewer folds or more data")
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(np.sort(tr), np.sort(va)) for tr, va in splitter.split(np.arange(n))]
