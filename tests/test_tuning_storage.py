"""tuning/storage.py: a storage that cannot be written, or fails mid-run, is one line without its password."""

import sqlite3
from collections import namedtuple

import pytest

from tuner.errors import ConfigError
from tuner.tuning import storage
from tuner.tuning.storage import check_writable, sqlite_path, storage_failed


def test_the_file_of_a_sqlite_url_and_none_for_a_server():
    assert str(sqlite_path("sqlite:///runs/a.db?timeout=5")) == "runs/a.db"
    assert sqlite_path("postgresql://u:p@db/x") is None


def test_a_failure_mid_run_is_one_line_with_the_password_masked():
    url = "postgresql://tuner:hunter2@db/studies"
    error = storage_failed(sqlite3.OperationalError('FATAL: password "hunter2" rejected\nDETAIL: more'), url)
    assert str(error) == ('storage postgresql://tuner:***@db/studies failed: FATAL: password "***" rejected; check '
                          'the database and its folder, then rerun the same command (finished trials are kept)')
    assert "free some disk space" in str(storage_failed(OSError("database or disk is full"), url))


def test_a_database_in_a_folder_that_cannot_hold_it_or_on_a_full_disk_is_refused_first(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=r"cannot write the study database sqlite:///.*/file/s.db: Not a "
                                          r"directory; make it and its folder writable"):
        check_writable(f"sqlite:///{tmp_path}/file/s.db")
    check_writable(f"sqlite:///{tmp_path}/s.db")  # a writable folder with room: nothing to say
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(storage.shutil, "disk_usage", lambda _: usage(1 << 30, 1 << 30, 1 << 20))
    with pytest.raises(ConfigError, match=r"the disk of sqlite:///.*s.db is full \(1 MiB free\); free some space"):
        check_writable(f"sqlite:///{tmp_path}/s.db")
