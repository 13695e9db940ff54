"""tuning/control.py: a stop signal is heard, not acted on mid-write, and the handlers before it come back."""

import os
import signal

import optuna

from tuner.tuning.control import Progress, StopSignals


def test_sigterm_and_ctrl_c_are_recorded_as_a_stop_with_the_shells_exit_code_and_handlers_restored():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with StopSignals() as stop:
        assert not stop.stopped and stop.exit_code == 0
        os.kill(os.getpid(), signal.SIGTERM)  # handled here: the process goes on
        assert stop.stopped and stop.exit_code == 143
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.exit_code == 130
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_the_bar_counts_finished_trials_up_to_the_target_and_shows_the_best(capsys):
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study()
    for value in (3.0, 1.5, 2.0):
        study.add_trial(optuna.trial.create_trial(value=value))
    bar = Progress(study, target=2, enabled=True)
    assert bar.bar.n == 2 and "best 1.5" in str(bar.bar)
    bar.close()
    assert "best 1.5" in capsys.readouterr().err  # on stderr: stdout stays for what a pipe reads
    assert Progress(optuna.create_study(), target=4, enabled=False).bar.n == 0
