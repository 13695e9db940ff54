"""train/factory.py: every model's seed, from the study seed, the trial, the fold and the member."""

from tuner.train.factory import trial_seed


def test_trial_seeds_differ_by_trial_and_fold_and_member():
    assert trial_seed(0, 1, 0) == trial_seed(0, 1, 0) == trial_seed(0, 1, 0, 0)
    assert len({trial_seed(0, n, f, m) for n in range(20) for f in range(5) for m in range(3)}) == 300
