"""Where a claim runs (its node and Slurm job), and whether Slurm still runs that job.

Each claim records these (trials.Attr: NODE, SLURM_JOB, SLURM_ARRAY), so a claim whose Slurm
job has ended, been cancelled or requeued is taken back at once instead of after the heartbeat
grace. Slurm is asked with one ``squeue`` call for every job id of a reclaim pass, and each
answer is kept SQUEUE_CACHE seconds, so many workers reclaiming often cost the controller
little. Where ``squeue`` does not exist or does not answer, nothing is decided here (the
heartbeat grace decides).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

from landscape.execution.trials import Attr

SQUEUE_CACHE = 5.0  # seconds an answer of squeue is reused
SQUEUE_TIMEOUT = 10.0  # seconds before a squeue that hangs counts as no answer
# Job states in which the worker process that claimed a run may still be alive: the claim
# stays. Every other state (PENDING and REQUEUED after a requeue, COMPLETED, CANCELLED,
# FAILED, TIMEOUT, PREEMPTED, NODE_FAIL, OUT_OF_MEMORY, BOOT_FAIL, DEADLINE, STAGE_OUT, ...)
# and a job squeue no longer lists mean that process is gone: the claim goes back at once.
# A requeued job runs again under the same id, but as a new process that claims afresh.
LIVE_STATES = frozenset(
    {
        "RUNNING",
        "COMPLETING",  # ending: its worker may still be giving the run back
        "CONFIGURING",
        "SUSPENDED",  # stopped by Slurm, resumes with its claim
        "STOPPED",
        "RESIZING",
        "SIGNALING",
    }
)


def where() -> dict[str, str]:
    """The claim attrs saying where this process runs: its node, and its Slurm job if any."""
    env = os.environ
    out = {Attr.NODE.value: env.get("SLURMD_NODENAME") or socket.gethostname()}
    if env.get("SLURM_JOB_ID"):
        out[Attr.SLURM_JOB.value] = env["SLURM_JOB_ID"]
    if env.get("SLURM_ARRAY_JOB_ID") and env.get("SLURM_ARRAY_TASK_ID"):
        out[Attr.SLURM_ARRAY.value] = f"{env['SLURM_ARRAY_JOB_ID']}_{env['SLURM_ARRAY_TASK_ID']}"
    return out


class SlurmJobs:
    """The state of Slurm jobs by id, asked of ``squeue`` (one call for many ids, cached)."""

    def __init__(self, cache: float = SQUEUE_CACHE) -> None:
        self.cache = cache
        self._known: dict[str, tuple[float, str | None]] = {}  # id -> (asked at, state)
        self.calls = 0  # how many times squeue ran (tests check the cache with it)

    def states(self, job_ids) -> dict[str, str | None]:
        """Each job's state ("" for a job squeue does not list); an id is left out where
        squeue is missing or fails (nothing is known about it)."""
        now = time.monotonic()
        ids = sorted({str(j) for j in job_ids if j})
        stale = [j for j in ids if j not in self._known or now - self._known[j][0] > self.cache]
        if stale:
            answer = ask_squeue(stale)
            self.calls += 1
            if answer is not None:
                for j in stale:
                    self._known[j] = (now, answer.get(j, ""))
        return {j: self._known[j][1] for j in ids if j in self._known}

    def gone(self, job_id: str) -> str | None:
        """Why the job's worker is surely gone ("Slurm job 12 is CANCELLED", "... no longer
        listed by squeue"), or None (alive, or not known: the heartbeat grace decides)."""
        state = self.states([job_id]).get(str(job_id))
        if state is None or state in LIVE_STATES:
            return None
        return f"Slurm job {job_id} is {state}" if state else f"Slurm job {job_id} is not listed"


def ask_squeue(job_ids: list[str]) -> dict[str, str] | None:
    """{job id: state} of the listed jobs by one ``squeue`` call; None where squeue is missing
    or fails (its controller unreachable). Unknown ids are simply absent."""
    squeue = shutil.which("squeue")
    if squeue is None or not job_ids:
        return None
    command = [squeue, "-h", "-j", ",".join(job_ids), "-o", "%A %T"]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=SQUEUE_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        # squeue refuses a list made only of ids it has forgotten: they are all gone
        return {} if "invalid job id" in proc.stderr.lower() else None
    out = {}
    for line in proc.stdout.splitlines():
        job, _, state = line.strip().partition(" ")
        if job:
            out[job] = state.strip().upper()
    return out
