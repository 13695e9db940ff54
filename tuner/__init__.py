"""tuner: hyperparameter tuning for small recurrent neural networks.

The names below load on first use, so `import tuner` (and the command line's start) imports no NumPy.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import ConfigError, DataError, DivergenceError, TunerError

__version__ = "0.1.0"
_LAZY = {"OPTIMIZERS": "tuner.nn", "SequenceModel": "tuner.nn", "make_optimizer": "tuner.nn",
         "FitResult": "tuner.train.watch", "fit": "tuner.train.trainer", "RNNRegressor": "tuner.estimator"}
__all__ = ["ConfigError", "DataError", "DivergenceError", "TunerError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tuner' has no attribute {name!r}")
