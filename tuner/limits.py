"""Sizes are bounded before anything is allocated: an estimate of what a trial, a data set or a saved model
needs, against what this process may use. One typo (hidden_units = 1000000000) must end in one line, not
in the kernel's OOM killer taking the host's other processes with it.

What a thing needs is estimated beside it (tuner.nn.sizes for models and trials, data.windows for windowed
data); this module holds the limit: the smaller of the memory the system has available and the address space
`ulimit -v` leaves this process, and one trial may take at most TRIAL_SHARE of it.
"""

from __future__ import annotations

import os
import resource

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
    return f"{n / 2**30:.3g} GiB" if n >= 2**27 else f"{n / 2**20:.3g} MiB"


def check_fits(what: str, needed: int, fix: str, share: float = TRIAL_SHARE) -> None:
    """Raise TooLarge, naming the estimate and the limit, when `needed` bytes will not fit."""
    limit = int(available_bytes() * share)
    if needed > limit:
        raise TooLarge(f"{what} needs about {gib(needed)}, more than the {gib(limit)} this process may use; {fix}")
