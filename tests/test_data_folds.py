"""data/folds.py: leak-free folds, scikit-learn's splitters."""

import numpy as np
import pytest

from tuner.config.spec import CVSpec, DataSpec
from tuner.data.folds import make_folds
from tuner.data.prepare import prepare
from tuner.errors import DataError


def test_time_series_folds_never_validate_on_the_past_and_never_overlap():
    spec = DataSpec(dataset="sine", n_points=300, window=10, horizon=3)
    p = prepare(spec, CVSpec(folds=4))
    w = p.windows
    for tr, va in p.folds:
        train, val = p.train_idx[tr], p.train_idx[va]
        assert w.t_last[train].max() < w.t_last[val].min()  # no validation index before a training index
        train_rows = {r for t in w.t_last[train] for r in range(t - 9, t + 4)}  # inputs and targets
        val_rows = {r for t in w.t_last[val] for r in range(t - 9, t + 4)}
        assert train_rows.isdisjoint(val_rows)  # no window straddles train and validation


def test_kfold_for_independent_sequences_is_seeded_and_covers_every_sample():
    a = make_folds(50, "kfold", 5, seed=3)
    b = make_folds(50, "kfold", 5, seed=3)
    c = make_folds(50, "kfold", 5, seed=4)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(a, c, strict=True))
    assert sorted(np.concatenate([va for _, va in a])) == list(range(50))


def test_time_folds_accept_every_count_from_min_samples_on_as_scikit_learn_does():
    """min_samples is TimeSeriesSplit's own rule: from it on every count splits, one below does not."""
    from sklearn.model_selection import TimeSeriesSplit

    from tuner.data.folds import min_samples

    for folds in (2, 3, 5):
        for gap in (0, 1, 12, 24):
            need = min_samples("time", folds, gap)
            for n in range(need, need + 3 * (folds + 1) + 1):
                assert len(list(TimeSeriesSplit(n_splits=folds, gap=gap).split(np.arange(n)))) == folds
            if need > folds + 1:
                with pytest.raises(ValueError):
                    list(TimeSeriesSplit(n_splits=folds, gap=gap).split(np.arange(need - 1)))
            with pytest.raises(DataError, match=rf"too few for {folds} time-series folds.*at least {need}"):
                make_folds(need - 1, "time", folds, gap)
