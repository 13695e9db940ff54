"""tuner: hyperparameter tuning for small recurrent neural networks."""

from .errors import ConfigError, DataError, DivergenceError, TunerError
from .nn import OPTIMIZERS, SequenceModel, make_optimizer
from .train import FitResult, fit

__version__ = "0.1.0"
__all__ = ["OPTIMIZERS", "ConfigError", "DataError", "DivergenceError", "FitResult", "SequenceModel",
           "TunerError", "fit", "make_optimizer"]
