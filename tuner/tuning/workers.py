"""The helper processes of `tune --workers N`: forked from this process on Linux (no start-up cost, the prepared
data shared), `tuner worker` processes elsewhere; and waiting for them, passing a stop on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable

from ..config.spec import STORAGE_ENV, StudySpec
from ..errors import TunerError


class ForkedWorker:
    """A helper worker forked from this process once its imports and data are ready, so its first trial starts
    at once (a fresh `python -m tuner worker` spent ~1.5 s importing scikit-learn and pandas first). The child
    opens a storage of its own, never touches the parent's connections, and leaves with os._exit so that no
    finalizer closes them (closing an inherited SQLite connection could checkpoint the parent's WAL)."""

    def __init__(self, body: Callable[[], int]):
        sys.stdout.flush()
        sys.stderr.flush()
        self.returncode: int | None = None
        self.pid = os.fork()
        if self.pid == 0:  # the child
            code = 1
            try:
                code = body()
            except TunerError as exc:
                print(f"tuner worker: error: {exc}", file=sys.stderr)
                code = 2
            except BaseException:  # a bug: say where, but never run the parent's cleanup in this process
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)


Worker = ForkedWorker | subprocess.Popen  # type: ignore[type-arg]


def start_workers(spec: StudySpec, url: str, target: int, n: int, timeout: float | None,
                  body: Callable[[], int] | None = None) -> list[Worker]:
    """n more workers on the same study; this process is worker 0. On Linux they are forked from this process
    (no start-up cost, the prepared data shared); elsewhere they are `tuner worker` processes, which get the
    storage URL by environment so that its password never shows in `ps`. `body` is a forked helper's life:
    the worker loop, returning its exit code."""
    if body is not None and sys.platform.startswith("linux"):
        return [ForkedWorker(body) for _ in range(n)]
    command = [sys.executable, "-m", "tuner", "worker", spec.path, "--n-trials", str(target)]
    if timeout:
        command += ["--timeout", str(timeout)]
    env = {**os.environ, STORAGE_ENV: url}
    return [subprocess.Popen(command, stdin=subprocess.DEVNULL, env=env) for _ in range(n)]


def wait_workers(procs: list[Worker], stopped: Callable[[], bool], refresh: Callable[[], None]) -> None:
    """Wait for the other workers, the bar following the storage. A stop reaches every worker: Ctrl-C
    reaches the whole process group, a SIGTERM to this process is passed on."""
    forwarded = False
    while any(p.poll() is None for p in procs):
        if stopped() and not forwarded:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            forwarded = True
        refresh()
        time.sleep(0.5)
    failed = [p.returncode for p in procs if p.returncode not in (0, 130, 143, -2, -15)]
    if failed and not stopped():
        raise TunerError(f"{len(failed)} of {len(procs) + 1} workers exited with an error (codes {failed}); "
                         f"rerun the same command to finish the study")


__all__ = ["ForkedWorker", "start_workers", "wait_workers"]
