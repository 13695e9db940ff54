"""Scoring a config: cross-validation over the study's folds and the gradient diagnostics it records.
"""
