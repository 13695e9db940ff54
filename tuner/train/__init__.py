"""Training, knowing nothing of Optuna: the trainer (trainer) and the factory that builds a config's models
(factory).
"""
