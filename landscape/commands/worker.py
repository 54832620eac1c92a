"""Join a study as one worker: take runs from its queue until none is left.

Start any number of these, on any machines that reach the storage (e.g. PostgreSQL), each
with its own GPU: ``CUDA_VISIBLE_DEVICES=0 landscape worker study.yaml --storage URL``.
SIGTERM or SIGINT: the run in training checkpoints at its current step and goes back to the
queue, and the worker exits. SIGUSR2 (a Slurm time-limit warning, ``--signal=B:USR2@300``):
the same, and the worker then requeues its own Slurm job (docs/cluster.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from landscape.execution import Worker, results_dir
from landscape.execution.queue import default_storage
from landscape.execution.runner import CANNOT_RUN
from landscape.execution.signals import requeue_slurm_job, stop_requests
from landscape.execution.storage import check_url
from landscape.execution.worker import WorkerCannotRun
from landscape.study import load_study

HELP = "take runs from a study's queue and train them"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", type=Path, help="the study file (YAML)")
    parser.add_argument("--storage", help="Optuna storage URL (default: the study's journal)")
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--device", help="cuda, cuda:1 or cpu (default: CUDA when present)")
    parser.add_argument("--max-runs", type=int, help="stop after this many runs")
    parser.add_argument(
        "--max-retries",
        type=int,
        default=2,
        help="retries of a run that raises before it is recorded as failed",
    )


def run(args: argparse.Namespace) -> int:
    threads = os.environ.get("LANDSCAPE_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    if args.storage:
        check_url(args.storage)
    study = load_study(args.study)
    results = results_dir(study, args.results)
    storage = args.storage or default_storage(results)
    with stop_requests() as stop:
        worker = Worker(
            study,
            results,
            storage,
            device=args.device,
            max_retries=args.max_retries,
            progress=sys.stderr.isatty(),
            stop=stop.event,
        )
        try:
            taken = worker.run(args.max_runs)
        except WorkerCannotRun as error:
            print(f"landscape worker: cannot train here: {error}", file=sys.stderr)
            return CANNOT_RUN
        print(f"worker {os.getpid()}: {taken} run(s) taken", file=sys.stderr)
        if stop.event.is_set():
            print(
                f"worker {os.getpid()}: stopped on {stop.describe()}; the run it was training "
                f"(if any) was checkpointed and put back in the queue",
                file=sys.stderr,
            )
        if stop.requeue:  # still handling signals: the requeue's own SIGTERM is expected
            print(f"worker {os.getpid()}: {requeue_slurm_job()}", file=sys.stderr, flush=True)
    return 0
