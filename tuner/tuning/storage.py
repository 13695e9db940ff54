"""Storage: open an Optuna RDB storage for writing (tune, worker) or for reading only (export, trials, report,
dashboard), hide its password everywhere, and serialise "count the trials, start the next one".

A reader never changes a database: it opens SQLite read-only and creates no table, so pointing `tuner trials`
at a database that is not a tuner study leaves it byte for byte as it was.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import tempfile
import time
import warnings
import zlib
from pathlib import Path
from typing import Any

import optuna
from sqlalchemy.pool import NullPool

from ..errors import ConfigError
from ..redact import mask, mask_text

STORAGE_ATTEMPTS = 3
SQLITE_LOCK_TIMEOUT = 60  # seconds a writer waits for another's lock before SQLite says "database is locked"


def sqlite_path(url: str) -> Path | None:
    """The file of a sqlite:/// URL (None for other storages)."""
    return Path(url.removeprefix("sqlite:///").split("?")[0]) if url.startswith("sqlite:///") else None


def _reason(error: BaseException, url: str) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    return mask_text(first, url)


def storage_failed(error: BaseException, url: str) -> ConfigError:
    """A storage error in the middle of a run, as one line without secrets."""
    hint = "free some disk space" if "full" in str(error) else "check the database and its folder"
    return ConfigError(f"storage {mask(url)} failed: {_reason(error, url)}; {hint}, then rerun the same command "
                       f"(finished trials are kept)")


MIN_FREE_BYTES = 8 << 20  # below this on a SQLite database's disk, no new trial starts: its writes would fail


def check_writable(url: str) -> None:
    """A SQLite database that cannot be written (a read-only file or folder, a full disk) is one line before
    any trial starts, not a trial left RUNNING. SQLite also needs its folder for the -wal and -shm files."""
    path = sqlite_path(url)
    if path is None or "?" in url:
        return
    try:
        if path.exists():
            with open(path, "r+b"):
                pass
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot write the study database {url}: {exc.strerror}; make it and its folder writable, "
                          f"or choose another --storage") from None
    free = shutil.disk_usage(path.parent).free
    if free < MIN_FREE_BYTES:
        raise ConfigError(f"the disk of {url} is full ({free >> 20} MiB free); free some space and rerun the same "
                          f"command (finished trials are kept)")


def open_storage(url: str, heartbeat: int | None = None, grace: int | None = None) -> optuna.storages.RDBStorage:
    """An Optuna RDB storage to write to; SQLite files get a lock timeout and WAL, and their folder is created.
    With `heartbeat`, running trials send a heartbeat every that many seconds, and one silent for `grace`
    seconds is failed and queued again (RetryHeartbeatStaleTrialCallback): a killed worker loses no trial."""
    engine_kwargs: dict = {}
    path = sqlite_path(url)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the folder of {url}: {exc.strerror}; choose another --storage") from None
        if path.is_dir():
            raise ConfigError(f"{url} is a directory; --storage needs a database file, e.g. sqlite:///studies/x.db")
        if "?" not in url:  # a plain file: tune it; a sqlite:///file:…?mode=ro URL is left as the user wrote it
            engine_kwargs = {"creator": lambda: _sqlite_connection(path)}
    error: BaseException | None = None
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna, and what we need
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                retry: dict[str, Any] = {}
                if heartbeat:
                    retry = {"heartbeat_interval": heartbeat, "grace_period": grace or 3 * heartbeat,
                             "heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(3)}
                return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **retry)
        except Exception as exc:  # SQLAlchemy raises many kinds; each is a storage the user must fix
            error = exc
            text = str(exc)
            race = ("already exists", "UNIQUE constraint", "duplicate key", "database is locked")
            if not any(r in text for r in race):  # only a race to create the tables is worth waiting out
                break
            time.sleep(1 + attempt)  # workers starting together on a new database race to create its tables
    assert error is not None
    hint = "; install the driver: pip install 'tuner[postgres]'" if isinstance(error, ModuleNotFoundError) else ""
    raise ConfigError(f"cannot open storage {mask(url)}: {_reason(error, url)}{hint}") from None


def open_reader(url: str) -> optuna.storages.RDBStorage:
    """A storage to read from that changes nothing: SQLite opened read-only, no table created. Anything that is
    not an Optuna database fails with one line."""
    path = sqlite_path(url)
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"no database at {url}; run `tuner tune` on the study first, or pass --storage")
        uri = f"file:{path.resolve()}?mode=ro"
        try:
            with sqlite3.connect(uri, uri=True) as conn:
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot read {url}: {exc}; is it a SQLite database?") from None
        if not {"studies", "trials", "version_info"} <= tables:
            raise ConfigError(f"{url} is not an Optuna study database (no studies table); give the database "
                              f"`tuner tune` wrote")
        engine_kwargs = {"creator": lambda: sqlite3.connect(uri, uri=True, check_same_thread=False,
                                                            timeout=SQLITE_LOCK_TIMEOUT)}
    else:
        engine_kwargs = {}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, skip_table_creation=True)
    except Exception as exc:
        raise ConfigError(f"cannot read storage {mask(url)}: {_reason(exc, url)}") from None


def _sqlite_connection(path: Path) -> sqlite3.Connection:
    """SQLite as several local workers need it: a writer waits for another's lock instead of failing, and
    commits go to a write-ahead log without an fsync each (WAL, synchronous=NORMAL: a crash of the process
    loses nothing; only a power cut can lose the last commits, never the database). Per-epoch reports were
    9 ms each with an fsync, and most of a small study's time."""
    conn = sqlite3.connect(path, timeout=SQLITE_LOCK_TIMEOUT, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class TrialLock:
    """Serialises "count the trials, start the next one" among all workers of a study, so n_trials is exact
    and no queued trial is popped twice: an flock beside a SQLite file (the workers share a machine), a
    PostgreSQL advisory lock keyed by the study name (they may not). SQLite has no row locks: without this,
    two processes popped the same queued trial and one crashed (bench/storage.py)."""

    def __init__(self, url: str, study_name: str = ""):
        self.url, self.key = url, zlib.crc32(study_name.encode())
        path = sqlite_path(url)
        self.path = Path(str(path) + ".lock") if path is not None else None
        self._fd: int | None = None
        self._conn: Any = None  # a SQLAlchemy connection holding the advisory lock
        self._held = False

    def acquire(self) -> None:
        if self._held:
            return
        if self.path is not None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        elif self.url.startswith("postgresql"):
            if self._conn is None:
                import sqlalchemy

                engine = sqlalchemy.create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
                self._conn = engine.connect()
            self._conn.exec_driver_sql(f"SELECT pg_advisory_lock({self.key})")
        self._held = True

    def release(self) -> None:
        if not self._held:
            return
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        elif self._conn is not None:
            self._conn.exec_driver_sql(f"SELECT pg_advisory_unlock({self.key})")
        self._held = False

    def __enter__(self) -> TrialLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
