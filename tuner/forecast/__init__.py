"""A trained model as a forecaster: the saved artifact (artifact), the one output layout (frames), predict and
--steps (predict, ahead), intervals, the blend.

The two numbers below are here, not in ahead.py, so the command line reads them without loading NumPy.
"""

PATHS = 500  # simulated futures behind --steps intervals
MAX_PATHS = 100_000  # each path is a forecast of its own: beyond this the intervals gain nothing measurable
