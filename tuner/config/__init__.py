"""The rules of a study: frozen specs (spec), the search space (space, search), the sampler and pruner
registries (samplers) and study files in and out (studyfile). Imports no pandas, scikit-learn or Optuna:
a bad study file costs one line and no start-up.
"""
