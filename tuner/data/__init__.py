"""Data: datasets -> windows -> held-out test split -> cross-validation folds -> scaled arrays.

    from tuner.data.prepare import prepare
    prepared = prepare(DataSpec(...), CVSpec(...))
    split = prepared.fold(0)          # scaled with fold 0's training part only
    split.x_train, split.y_train, split.x_eval, split.y_eval
    split.score(model.predict(split.x_eval))   # MSE in original units
    split.baselines()                           # persistence, mean, ridge on the same split
    prepared.test()                   # all tuning data -> the held-out test split (tuner train only)

The package itself imports nothing heavy: the study-file check reads the dataset names from datasets.py
without loading pandas or scikit-learn.
"""
