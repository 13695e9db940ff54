"""Sizes are bounded before anything is allocated: an estimate of what a trial, a data set or a saved model
needs, against what this process may use. One typo (hidden_units = 1000000000) must end in one line, not
in the kernel's OOM killer taking the host's other processes with it.

What a thing needs is estimated beside it (tuner.nn.sizes for models and trials, data.windows for windowed
data); this module holds the limit: the smaller of the memory the system has available and the address space
`ulimit -v` leaves this process, and one trial may take at most TRIAL_SHARE of it. Also the process's memory
policies: files are read only up to a bound (read_bounded), and glibc keeps freed blocks (keep_freed_memory).
"""

from __future__ import annotations

import ctypes
import os
import resource
import sys
from pathlib import Path

from .errors import TooLarge

TRIAL_SHARE = 0.5  # of the available memory one trial may plan on: temporaries, other workers, the OS


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _address_space_left() -> int | None:
    """What `ulimit -v` leaves: the limit less what this process has mapped already."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/status") as f:
            used = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    except (OSError, StopIteration):
        used = 0
    return max(0, soft - used)


def available_bytes() -> int:
    """Memory this process can still use: free memory, and the address space left under ulimit -v."""
    limits = [v for v in (_meminfo_available(), _address_space_left()) if v is not None]
    return min(limits) if limits else 1 << 40


def gib(n: float) -> str:
    """A size in the unit that reads best."""
    if n >= 2**27:
        return f"{n / 2**30:.3g} GiB"
    return f"{n / 2**20:.3g} MiB" if n >= 2**20 else f"{n / 2**10:.3g} KiB" if n >= 2**10 else f"{int(n)} bytes"


def check_fits(what: str, needed: int, fix: str, share: float = TRIAL_SHARE) -> None:
    """Raise TooLarge, naming the estimate and the limit, when `needed` bytes will not fit."""
    limit = int(available_bytes() * share)
    if needed > limit:
        raise TooLarge(f"{what} needs about {gib(needed)}, more than the {gib(limit)} this process may use; {fix}")


def read_bounded(path: Path, limit: int, what: str, error: type[Exception]) -> bytes:
    """A file's bytes, at most `limit` of them. Only a regular file is read: a device or a pipe reports no size
    (and /dev/zero never ends). Its size is checked first and the read stops at the bound too (a file still
    growing). Errors are one `error` (or TooLarge) naming the file."""
    if path.exists() and not path.is_file() and not path.is_dir():
        raise error(f"{what} {path} is not a regular file (a device or a pipe); save it to a file and give that")
    size = path.stat().st_size
    if size > limit:
        raise TooLarge(f"{what} {path} is {size} bytes, more than the {gib(limit)} it may take; is it the right "
                       f"file?")
    with open(path, "rb") as f:  # read(n) allocates n bytes first: ask for what the file holds, and one more
        data = f.read(size + 1)
        if len(data) > size:  # still growing: read on up to the bound
            data += f.read(limit + 1 - len(data))
    if len(data) > limit:
        raise TooLarge(f"{what} {path} grew past {gib(limit)} while it was read; is it the right file?")
    return data


_malloc_tuned = False


def keep_freed_memory() -> None:
    """Ask glibc to keep freed blocks instead of returning them to the kernel.

    Every training step allocates the same large temporaries (hidden states, gate activations). By default
    glibc gives blocks over 128 KiB back to the kernel on free and page-faults them in again on the next
    step; measured here, that was 40% of a step at hidden 128. Process-wide, so called by entry points
    (tuner's CLI, the benchmarks), never by a library call; once, Linux only.
    """
    global _malloc_tuned
    if _malloc_tuned or not sys.platform.startswith("linux"):
        return
    _malloc_tuned = True
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: keep up to 1 GiB of free heap
        libc.mallopt(-3, 1 << 25)  # M_MMAP_THRESHOLD: blocks up to 32 MiB come from the reusable heap
    except (OSError, AttributeError):  # not glibc (musl, say): only slower
        pass
