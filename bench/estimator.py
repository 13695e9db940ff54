"""RNNRegressor with its defaults, as a scikit-learn user meets it: the shipped sunspots as 12 lags in a
StandardScaler pipeline, 4 TimeSeriesSplit folds, CV MSE against RidgeCV's, over three seeds.

    python bench/estimator.py ['{"learning_rate": 0.001}']   # optional: parameters to try instead (JSON)
"""
import json
import sys
import time

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import TimeSeriesSplit, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tuner.config.spec import DataSpec
from tuner.data.datasets import DATASETS
from tuner.estimator import RNNRegressor


def main() -> int:
    series = DATASETS["sunspots"](DataSpec())["sunspots"].to_numpy()
    x = np.lib.stride_tricks.sliding_window_view(series[:-1], 12)
    y = series[12:]
    cv = TimeSeriesSplit(n_splits=4)

    def cv_mse(model) -> float:
        scores = cross_val_score(make_pipeline(StandardScaler(), model), x, y, cv=cv, scoring="neg_mean_squared_error")
        return -scores.mean()

    ridge = cv_mse(RidgeCV(alphas=np.logspace(-6, 3, 19)))
    kw = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    ratios = []
    for seed in (0, 1, 2):
        t = time.perf_counter()
        rnn = cv_mse(RNNRegressor(random_state=seed, **kw))
        ratios.append(rnn / ridge)
        print(f"seed {seed}: RNN CV MSE {rnn:.1f}, ridge {ridge:.1f}, ratio {rnn / ridge:.2f}  "
              f"({time.perf_counter() - t:.1f}s)")
    print(f"ratio to ridge: median {np.median(ratios):.2f}, range {min(ratios):.2f}-{max(ratios):.2f} "
          f"(target: within 1.2)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
