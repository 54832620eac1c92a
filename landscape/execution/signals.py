"""What each signal asks of a worker, and of ``landscape run`` (docs/cluster.md has the table).

A worker installs ``stop_requests()`` for its whole life. A stop signal sets an event that the
training loop checks between steps: it then checkpoints the run at the current step, the worker
gives the claim back at once (``Queue.release``) and takes no further run.

- SIGTERM (``scontrol requeue``, pre-emption, ``scancel``, the end of the time limit) and SIGINT
  (Ctrl-C): checkpoint, give the run back, exit. Slurm decides what happens to the job (a
  requeue or a pre-emption requeues it; ``scancel`` ends it).
- SIGUSR2 (the time-limit warning of ``#SBATCH --signal=B:USR2@SECONDS``, or ``scancel
  --signal=USR2 --batch JOB`` by hand): the same, then the worker requeues its own Slurm job
  (``scontrol requeue $SLURM_JOB_ID``), so a job array keeps its size through time limits.
- SIGUSR1 is not a worker's: it tells ``landscape run`` to write the report of a study mid-way
  (runner.py); a worker leaves it alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from landscape.handlers import handling

STOP = (signal.SIGTERM, signal.SIGINT)  # checkpoint, give the run back, exit
REQUEUE = signal.SIGUSR2  # ... and requeue this Slurm job (the time-limit warning)
REPORT = signal.SIGUSR1  # `landscape run` only: write the report now
# Slurm's ids of the job this process runs in. An array task's SLURM_JOB_ID may equal the
# array's own id, and `scontrol requeue ARRAY_ID` requeues every task: name the task instead.
SLURM_JOB_ENV, SLURM_ARRAY_ENV = "SLURM_JOB_ID", ("SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID")


@dataclass
class StopRequest:
    """Set once a stop signal arrives; ``signum`` is the first such signal."""

    event: threading.Event = field(default_factory=threading.Event)
    signum: int | None = None

    @property
    def requeue(self) -> bool:
        """Whether the signal asked this worker to requeue its Slurm job as it leaves."""
        return self.signum == REQUEUE

    def describe(self) -> str:
        return signal.Signals(self.signum).name if self.signum else "no signal"


@contextmanager
def stop_requests() -> Iterator[StopRequest]:
    """Turn the stop signals into a StopRequest for as long as the block runs. A second Ctrl-C
    stops at once (KeyboardInterrupt); a repeated SIGTERM or SIGUSR2 does not cut a checkpoint
    short (requeueing one's own job sends the SIGTERM that Slurm sends every requeued job)."""
    request = StopRequest()

    def handle(signum, frame):
        if request.event.is_set():
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            return
        request.signum = signum
        request.event.set()

    with handling((*STOP, REQUEUE), handle):
        yield request


def requeue_slurm_job(environ: dict[str, str] | None = None) -> str:
    """Requeue the Slurm job this process runs in; returns what happened, in words. The job
    needs ``--requeue`` (the launcher's script has it) or the cluster's JobRequeue=1."""
    job = slurm_job(environ if environ is not None else os.environ)
    if not job:
        return "not in a Slurm job ($SLURM_JOB_ID is unset): nothing to requeue"
    try:
        done = subprocess.run(
            ["scontrol", "requeue", job], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"could not requeue Slurm job {job}: {error}"
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
        return f"could not requeue Slurm job {job}: scontrol said: {why}"
    return f"Slurm job {job} requeued: it starts again, with a fresh time limit"


def slurm_job(environ) -> str | None:
    """This job's id as scontrol takes it: ARRAY_TASK for an array task, else the job id."""
    array, task = (environ.get(key) for key in SLURM_ARRAY_ENV)
    return f"{array}_{task}" if array and task else environ.get(SLURM_JOB_ENV) or None
