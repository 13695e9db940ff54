"""A trained model as a forecaster: the saved artifact and predict (artifact), intervals, the blend.
"""
