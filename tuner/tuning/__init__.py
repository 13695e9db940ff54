"""Optuna's side: the objective (the only optuna.Trial user), the study runner and its workers, what makes
two trials comparable (meaning), storage, and Dask (cluster).
"""
