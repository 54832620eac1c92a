"""A trial of the queue: its attribute keys, which trials stand for runs, a waiting trial.

One run is one Optuna trial; these are the facts about trials that the queue, the rebuild
and the commands share.
"""

from __future__ import annotations

import json
import os
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import optuna
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from landscape.records import AXES, Status

if TYPE_CHECKING:  # only a type here: the status view reads trials without importing torch
    from landscape.train import RunSpec

HEARTBEAT_EVERY = 30.0  # seconds between a working claim's heartbeats (Attr.HEARTBEAT)


class Attr(StrEnum):
    """The user-attribute keys of a trial, named here only."""

    RUN_ID = "run_id"
    SPEC = "spec"  # the RunSpec as JSON
    ORIGIN = "origin"
    ATTEMPT = "attempt"  # 1 for the first try; a retry after an error counts up
    WORKER = "worker"  # host:pid of the claim's worker
    NODE = "node"  # the node the claim runs on (SLURMD_NODENAME, else the host name)
    SLURM_JOB = "slurm_job"  # SLURM_JOB_ID of the claim's worker (what squeue -j takes)
    SLURM_ARRAY = "slurm_array"  # ARRAYJOBID_TASKID when the worker is an array task
    HEARTBEAT = "heartbeat"  # time.time() of the worker's last sign of life
    STEP = "step"  # the last step the worker reported
    VOID = "void"  # why this trial stands for nothing (unless it ended COMPLETE: is_void)
    STATUS = "status"  # a records.Status
    ERROR = "error"  # a failed run's error
    DIVERGED_AT = "diverged_at"
    BEST_STEP = "best_step"
    CODE = "code"  # the digest of the run's variant code (code.json in its folder)
    PRUNED_STEP = "pruned_step"  # the step a pruned run stopped at
    PRUNED_FID = "pruned_fid"  # its last FID (its value is its best FID so far)
    # the compute a run used (records.RunFiles.STATUS has the same): D steps trained, FLOPs
    # (training + evaluations, cost/flops.py) and the device-seconds of its clock
    D_STEPS = "d_steps"
    FLOPS = "flops"
    DEVICE_SECONDS = "device_seconds"


# The four states `counts` reports, by the Optuna state of the trial standing for a run.
DONE, QUEUED = "done", "queued"  # done: ok or diverged (Status.scored)
FAILED, RUNNING = Status.FAILED.value, Status.RUNNING.value


class Gave(StrEnum):
    """How the reason of a claim given back starts (a void trial's Attr.VOID), written by the
    worker and the queue and read by the status view, which accounts the claim's device time
    by it (execution/status.py VOID_KINDS)."""

    INTERRUPTED = "interrupted"  # a signal: pre-emption, a time limit, Ctrl-C
    CANNOT_START = "worker could not start it"  # the machine lacked data or weights
    LOST = "worker"  # "worker HOST:PID lost: ...": found dead by reclaim_stale
    DUPLICATE = "duplicate"  # trained or recorded by another claim
    RETRIED = "attempt"  # "attempt N raised: ...": an error, queued again


COUNT_OF = {
    TrialState.COMPLETE: DONE,
    TrialState.FAIL: FAILED,
    TrialState.RUNNING: RUNNING,
    TrialState.WAITING: QUEUED,
}
PRUNED = Status.PRUNED.value  # a COMPLETE trial the pruner stopped (Queue.prune): its own count


def count_of(t: FrozenTrial) -> str:
    """The count a trial falls in: COUNT_OF its state, but a pruned run apart from done."""
    if t.state == TrialState.COMPLETE and t.user_attrs.get(Attr.STATUS) == Status.PRUNED:
        return PRUNED
    return COUNT_OF[t.state]


def failure_of(t: FrozenTrial) -> str:
    return str(t.user_attrs.get(Attr.ERROR, "no error recorded"))


def is_void(t: FrozenTrial) -> bool:
    """Whether the trial stands for nothing. Voiding is two writes (the reason, then the end
    as FAIL); a worker that completes the trial in between wins, and its result counts."""
    return Attr.VOID in t.user_attrs and t.state != TrialState.COMPLETE


def counted(study: optuna.Study) -> list[FrozenTrial]:
    """The trials that stand for runs: not void, and of several trials of one run (a failed
    run queued again), the latest."""
    latest: dict[Any, FrozenTrial] = {}
    for t in study.get_trials(deepcopy=False):
        if not is_void(t):
            latest[t.user_attrs.get(Attr.RUN_ID, ("trial", t.number))] = t
    return sorted(latest.values(), key=lambda t: t.number)


def waiting_trial(spec: RunSpec, attempt: int, frozen: FrozenTrial | None = None):
    """A WAITING trial for ``spec``. Its numbers are params (each a one-point distribution, so
    the dashboard can plot them); its variant names are user attrs, because Optuna's
    categorical params cannot gain choices later, and adding a variant must stay possible."""
    if frozen is not None and frozen.params:  # a retry keeps the proposal's own distributions
        params, dists = dict(frozen.params), dict(frozen.distributions)
    else:
        params = {
            k: v
            for k, v in spec.to_dict().items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        dists = {
            k: IntDistribution(v, v) if isinstance(v, int) else FloatDistribution(v, v)
            for k, v in params.items()
        }
    names = {k: getattr(spec, k) for k in ("dataset", *AXES)}
    attrs = {Attr.RUN_ID: spec.run_id, Attr.ORIGIN: spec.origin, Attr.ATTEMPT: attempt}
    return optuna.trial.create_trial(
        state=TrialState.WAITING,
        params=params,
        distributions=dists,
        user_attrs={**attrs, Attr.SPEC: json.dumps(spec.to_dict()), **names},
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours is dead too
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return True
