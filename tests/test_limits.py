"""limits.py: sizes are bounded before anything is allocated or read."""

from pathlib import Path

import pytest

from tuner import limits
from tuner.errors import DataError, TooLarge
from tuner.limits import check_fits, gib, read_bounded


def test_what_does_not_fit_is_refused_naming_the_estimate_the_limit_and_the_fix(monkeypatch):
    monkeypatch.setattr(limits, "available_bytes", lambda: 4 << 30)
    check_fits("a trial", 2 << 30, "use fewer units")  # half of what is available: allowed
    with pytest.raises(TooLarge, match=r"^a trial needs about 3 GiB, more than the 2 GiB this process may use; use "
                                       r"fewer units$"):
        check_fits("a trial", 3 << 30, "use fewer units")
    assert (gib(5 << 30), gib(3 << 20), gib(1536), gib(99)) == ("5 GiB", "3 MiB", "1.5 KiB", "99 bytes")


def test_only_a_regular_file_within_its_bound_is_read(tmp_path):
    path = tmp_path / "model.json"
    path.write_bytes(b"x" * 100)
    assert read_bounded(path, 100, "model description", DataError) == b"x" * 100
    with pytest.raises(TooLarge, match=r"model description .*model.json is 100 bytes, more than the 99 bytes it "
                                       r"may take; is it the right file\?"):
        read_bounded(path, 99, "model description", DataError)
    with pytest.raises(DataError, match=r"model description /dev/zero is not a regular file \(a device or a pipe\)"):
        read_bounded(Path("/dev/zero"), 100, "model description", DataError)
