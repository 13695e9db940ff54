"""data/metrics.py: score_of, the one metric early stopping asks for each epoch, is the value scores() reports."""

import numpy as np
import pytest

from tuner.data.metrics import METRICS, score_of, scores, smape_terms


@pytest.mark.parametrize("metric", METRICS)
def test_each_metric_alone_is_the_one_in_the_full_scores(metric, rng):
    actual = rng.uniform(1, 100, size=(20, 3))
    pred = actual + rng.normal(0, 5, size=actual.shape)
    scale = rng.uniform(1, 4, size=actual.shape)
    assert score_of(metric, pred, actual, scale) == pytest.approx(scores(pred, actual, scale)[metric], rel=1e-12)


def test_smape_is_bounded_by_200_and_zero_only_where_both_are_zero():
    terms = smape_terms(np.array([5.0, -5.0, 0.0, 0.0]), np.array([0.0, 5.0, 0.0, 3.0]))
    np.testing.assert_allclose(terms, [200.0, 200.0, 0.0, 200.0])
    assert set(scores(np.ones((2, 1)), np.ones((2, 1)))) == {"mse", "rmse", "mae"}  # no scale: no scale-free ones
