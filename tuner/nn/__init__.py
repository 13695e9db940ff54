"""The NumPy RNN engine: cells, model, losses, optimizers."""

from .activations import ACTIVATIONS
from .cells import CELLS
from .losses import mse
from .model import SequenceModel, keep_freed_memory
from .optimizers import OPTIMIZERS, Optimizer, clip_by_global_norm, make_optimizer

__all__ = ["ACTIVATIONS", "CELLS", "OPTIMIZERS", "Optimizer", "SequenceModel", "clip_by_global_norm",
           "keep_freed_memory", "make_optimizer", "mse"]
