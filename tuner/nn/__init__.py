"""The NumPy RNN engine: cells, model, losses, optimizers."""

from ..limits import keep_freed_memory  # process-wide, for entry points: here for them to find
from .activations import ACTIVATIONS
from .cells import CELLS
from .losses import mse
from .model import SequenceModel
from .optimizers import OPTIMIZERS, Optimizer, clip_by_global_norm, make_optimizer

__all__ = ["ACTIVATIONS", "CELLS", "OPTIMIZERS", "Optimizer", "SequenceModel", "clip_by_global_norm",
           "keep_freed_memory", "make_optimizer", "mse"]
