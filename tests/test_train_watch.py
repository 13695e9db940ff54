"""train/watch.py: one model's divergence checks and early stopping, each error naming its epoch and reason."""

import numpy as np
import pytest

from tuner.errors import DivergenceError
from tuner.train.watch import EXPLODE_FACTOR, FitResult, Watch, exploded


def test_a_loss_counts_as_exploded_only_past_the_factor_of_the_larger_reference():
    assert exploded(EXPLODE_FACTOR * 2.0 * 0.99, untrained=2.0, zero_loss=1.0) is None
    assert "over 100 times the untrained model's loss (2)" in exploded(EXPLODE_FACTOR * 2.0 * 1.01, 2.0, 1.0)
    # started at the ridge solution: a rise from near zero is measured against the data's own scale
    assert exploded(5.0, untrained=1e-6, zero_loss=1.0) is None
    assert "the loss of predicting zero (1)" in exploded(101.0, untrained=1e-6, zero_loss=1.0)


def test_a_huge_untrained_loss_points_at_the_architecture_not_the_learning_rate():
    watch = Watch(model=2, patience=None, zero_loss=1.0)
    watch.batch(1, first=True, loss=1e9)
    with pytest.raises(DivergenceError, match="unbounded activation") as caught:
        watch.epoch_end(1, FitResult(), train_loss=1e12, val_loss=None)
    assert caught.value.epoch == 1 and caught.value.model == 2
    sane = Watch(model=0, patience=None, zero_loss=1.0)
    sane.batch(1, first=True, loss=1.2)  # an ordinary start: a later NaN points at the step size
    with pytest.raises(DivergenceError, match=r"training loss became nan \(try a lower learning rate"):
        sane.batch(3, first=False, loss=float("nan"))


def test_early_stopping_keeps_the_best_epoch_and_stops_after_patience_epochs_without_one():
    watch, result = Watch(model=0, patience=2, zero_loss=1.0), FitResult()
    watch.batch(1, first=True, loss=1.0)
    best = [watch.epoch_end(e, result, 1.0, v) for e, v in enumerate([0.9, 0.5, 0.6, 0.7], start=1)]
    assert best == [True, True, False, False] and result.best_epoch == 2 and result.stopped_early
    assert result.val_loss == [0.9, 0.5, 0.6, 0.7]
    with pytest.raises(DivergenceError, match="validation loss became inf"):
        watch.epoch_end(5, result, 1.0, np.inf)
