"""A trained model as a forecaster: the saved artifact and predict (artifact), intervals, the blend.

The two numbers below are here, not in artifact.py, so the command line reads them without loading NumPy.
"""

PATHS = 500  # simulated futures behind --steps intervals
MAX_PATHS = 100_000  # each path is a forecast of its own: beyond this the intervals gain nothing measurable
