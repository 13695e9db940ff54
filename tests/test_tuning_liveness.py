"""tuning/liveness.py: which trials count towards n_trials (the parameters' fault counts, the environment's
does not, a retried trial is replaced by its retry)."""

import optuna
from optuna.trial import TrialState, create_trial

from tuner.tuning.liveness import counted, counts


def failed(kind=None, reason=""):
    return create_trial(state=TrialState.FAIL, user_attrs={k: v for k, v in (("fail_kind", kind),
                                                                            ("fail_reason", reason)) if v})


def test_a_failure_counts_only_when_it_was_the_parameters():
    assert counts(failed("params", "training diverged at epoch 3: ..."))
    assert not counts(failed("environment", "its worker 1 died"))
    assert counts(failed(reason="training diverged at epoch 2: ..."))  # a study from before fail kinds
    assert not counts(failed(reason="OSError: disk full"))


def test_counted_takes_complete_pruned_running_and_the_parameters_failures_but_not_retried_ones():
    study = optuna.create_study()
    study.add_trial(create_trial(state=TrialState.COMPLETE, value=1.0, params={}, distributions={}))
    study.add_trial(create_trial(state=TrialState.PRUNED))
    study.add_trial(create_trial(state=TrialState.FAIL, user_attrs={"fail_kind": "params"}))
    study.add_trial(create_trial(state=TrialState.FAIL, user_attrs={"fail_kind": "environment"}))
    study.add_trial(create_trial(state=TrialState.FAIL, user_attrs={"fail_kind": "params"}))
    study.enqueue_trial({})
    trials = study.get_trials(deepcopy=False)
    assert counted(trials) == 5  # complete, pruned, two parameter failures, one queued
    retry = create_trial(state=TrialState.COMPLETE, value=2.0, params={}, distributions={},
                         system_attrs={"retry_history": [4]})  # trial 4 failed and was retried as this one
    study.add_trial(retry)
    assert counted(study.get_trials(deepcopy=False)) == 5  # trial 4 no longer counts: its retry does
