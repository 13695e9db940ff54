"""Tune a study on SLURM with dask-jobqueue: each Dask worker is a SLURM job of one core, and this script (run
on the login node, or in a small job of its own) is the tuner client. The study's SQLite file sits on the
shared filesystem beside the study file and is opened only by the Dask scheduler, which runs here.

    pip install 'tuner[dask]' dask-jobqueue
    python deploy/slurm/tune.py studies/sunspots.toml --jobs 16 --walltime 02:00:00

Workers that SLURM preempts or kills lose only their running trial (it is queued again); the study ends at
exactly n_trials. Adjust --account/--partition (or set them in ~/.config/dask/jobqueue.yaml).
"""

from __future__ import annotations

import argparse
import subprocess
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study")
    parser.add_argument("--jobs", type=int, default=8, help="SLURM jobs, one Dask worker each (default 8)")
    parser.add_argument("--walltime", default="01:00:00")
    parser.add_argument("--memory", default="2GB", help="per worker; tuner refuses a trial that cannot fit")
    parser.add_argument("--partition")
    parser.add_argument("--account")
    args = parser.parse_args()

    from dask_jobqueue import SLURMCluster

    cluster = SLURMCluster(cores=1, processes=1, memory=args.memory, walltime=args.walltime,
                           queue=args.partition, account=args.account,
                           worker_extra_args=["--nthreads", "1"])  # one trial at a time per worker
    cluster.scale(jobs=args.jobs)
    try:
        # the same command as on one machine, pointed at this cluster's scheduler
        return subprocess.call([sys.executable, "-m", "tuner", "tune", args.study, "--dask",
                                cluster.scheduler_address])
    finally:
        cluster.close()


if __name__ == "__main__":
    raise SystemExit(main())
