"""What a run shows and hears while it goes: the progress bar (stderr, terminals only) and the stop signals
(Ctrl-C, SIGTERM) that end the running trial at its next epoch, never inside a database write."""

from __future__ import annotations

import signal
import sys
from typing import Any

import optuna

from .liveness import finished


class StopSignals:
    """Ctrl-C and SIGTERM ask the run to stop: the running trial ends at its next epoch as FAIL (marked
    interrupted, so it does not count), finished trials are kept, and the exit code is 128 + signal."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame) -> None:
        self.signal = signum

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    @property
    def stopped(self) -> bool:
        return self.signal is not None

    @property
    def exit_code(self) -> int:
        return 128 + self.signal if self.signal else 0


class Progress:
    """A tqdm bar over the study's total: trials done / target, best so far, elapsed."""

    def __init__(self, study: optuna.Study, target: int, enabled: bool = True):
        from tqdm import tqdm

        self.study = study
        self.bar = tqdm(total=target, initial=min(finished(study), target), desc=study.study_name, unit="trial",
                        disable=not enabled, file=sys.stderr, dynamic_ncols=True)
        self.refresh()

    def refresh(self, *_: object) -> None:
        self.bar.n = min(finished(self.study), self.bar.total)
        try:
            self.bar.set_postfix_str(f"best {self.study.best_value:.5g}", refresh=False)
        except ValueError:  # no complete trial yet
            pass
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


__all__ = ["Progress", "StopSignals"]
