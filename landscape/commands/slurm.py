"""Run a study on a Slurm cluster: queue it, prepare what every worker needs, submit a job array.

On the login node: queues the study as ``landscape run --workers 0`` does (study.yaml,
claims.json and targets.csv go to the same results folder the workers use), computes the
reference statistics and the real-data floor once, then submits N array tasks, each one
``landscape worker``, with your sbatch options. The exact script submitted is kept in
``RESULTS/<study>/slurm/workers-N.sh``. Run the same command again to add workers, or to go on
after the whole allocation ended: nothing known is queued twice. docs/cluster.md is the recipe.
"""

from __future__ import annotations

import argparse
import os
import shlex
import socket
import time
from pathlib import Path

from landscape.execution import results_dir, run_study
from landscape.execution.slurm import (
    LOGS,
    SLURM_DIR,
    WARNING_SECONDS,
    SbatchOptions,
    check_sbatch,
    new_script,
    prepare,
    record_submission,
    staged_environment,
    storage_note,
    submit,
    worker_script,
)
from landscape.execution.storage import STORAGE_ENV, check_url
from landscape.study import load_study

HELP = "run a study on a Slurm cluster as a job array of workers"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", type=Path, help="the study file (YAML)")
    parser.add_argument(
        "--workers", type=int, required=True, help="array tasks, one worker (one GPU) each"
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=Path("results"),
        help="root of the results folders, on a file system the compute nodes share "
        "(default: results/)",
    )
    parser.add_argument(
        "--storage",
        help=f"Optuna storage URL, e.g. postgresql+psycopg://user@host/db (default: "
        f"${STORAGE_ENV}, else the journal in the results folder); it reaches the workers "
        f"through sbatch's environment, never written in the script",
    )
    sbatch = parser.add_argument_group("sbatch options (default: the cluster's)")
    sbatch.add_argument("--partition")
    sbatch.add_argument("--account")
    sbatch.add_argument("--time", help="time limit of each task, e.g. 24:00:00")
    sbatch.add_argument("--mem", help="memory of each task, e.g. 32G")
    sbatch.add_argument("--cpus-per-task", type=int)
    sbatch.add_argument("--gpus-per-task", help="e.g. 1, or a100:1")
    sbatch.add_argument("--gres", help="e.g. gpu:1 (clusters that count GPUs as gres)")
    sbatch.add_argument(
        "--array-parallelism", type=int, help="at most this many tasks at once (--array=...%%K)"
    )
    sbatch.add_argument(
        "--warning",
        type=int,
        default=WARNING_SECONDS,
        metavar="SECONDS",
        help="how long before the time limit a task is told to checkpoint and requeue itself "
        f"(--signal=B:USR2@SECONDS; default {WARNING_SECONDS}: one evaluation and a "
        "checkpoint must fit)",
    )
    sbatch.add_argument(
        "--sbatch-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="any other sbatch option, as one argument (repeatable): --sbatch-arg=--qos=long",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the script that would be submitted; queue, prepare and submit nothing",
    )


def run(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1 (array tasks), got {args.workers}")
    for flag in ("cpus_per_task", "array_parallelism"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise ValueError(f"--{flag.replace('_', '-')} must be >= 1, got {value}")
    if args.warning < 0:
        raise ValueError(f"--warning must be >= 0 seconds, got {args.warning}")
    storage = args.storage or os.environ.get(STORAGE_ENV) or None
    if storage:
        check_url(storage)
    study = load_study(args.study)
    results_root = args.results.absolute()
    options = SbatchOptions(
        partition=args.partition,
        account=args.account,
        time=args.time,
        mem=args.mem,
        cpus_per_task=args.cpus_per_task,
        gpus_per_task=args.gpus_per_task,
        gres=args.gres,
        array_parallelism=args.array_parallelism,
        warning_seconds=args.warning,
        extra=tuple(args.sbatch_arg),
    )
    text = worker_script(
        study,
        results_root,
        args.workers,
        options,
        staged=staged_environment(),
        storage_note=storage_note(storage),
        launched_by=f"landscape slurm on {socket.gethostname()} at {time.strftime('%F %T %Z')}",
    )
    if args.dry_run:
        print(text, end="")
        return 0
    check_sbatch()  # before anything is queued or computed
    run_study(study, workers=0, storage=storage, results_root=results_root, report=False)
    for line in prepare(study):
        print(line, flush=True)
    folder = results_dir(study, results_root) / SLURM_DIR
    script = new_script(folder, text)
    try:
        job = submit(script, storage)
    except Exception:
        script.unlink()  # nothing was submitted: no record of a submission
        raise
    record_submission(folder, script, job, args.workers)
    print(f"submitted job array {job} ({args.workers} workers): {script}")
    print(f"their output: {folder / LOGS}/{job}_<task>.out")
    status = ["landscape", "status", str(args.study), "--results", str(args.results)]
    print(f"watch it: {shlex.join(status)}   (and squeue --job {job})")
    return 0
