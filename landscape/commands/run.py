"""Run a study: queue its runs, start N workers, show progress, write the report at the end.

Re-running a study trains only what is not done yet; an interrupted run resumes from its last
checkpoint. Send SIGUSR1 to this process to write the report of a partly finished study.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from landscape.execution import run_study
from landscape.execution.provenance import FLAGS, KEEP, RETRAIN
from landscape.execution.queue import FAILED
from landscape.execution.runner import visible_gpus
from landscape.execution.storage import check_url
from landscape.study import load_study

HELP = "run a study file with N parallel workers and write its report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", type=Path, help="the study file (YAML)")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes, pinned round-robin to the GPUs when there are GPUs "
        "(default: one per GPU x --runs-per-gpu, or 1 without GPUs); 0 only queues the runs "
        "for workers started elsewhere with `landscape worker`",
    )
    parser.add_argument(
        "--runs-per-gpu",
        type=int,
        default=1,
        help="runs sharing each GPU when --workers is not given: small GAN models leave a "
        "large GPU mostly idle (default 1; measure with bench/runs_per_gpu.py)",
    )
    parser.add_argument(
        "--storage",
        help="Optuna storage URL (default: a journal file in the "
        "study's results folder); e.g. postgresql://...",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=Path("results"),
        help="root of the results folders (default: results/)",
    )
    parser.add_argument("--no-report", action="store_true", help="do not write the report")
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="queue the runs recorded as failed again (after fixing what made them fail)",
    )
    parser.add_argument(
        "--rebuild-queue",
        action="store_true",
        help="for a damaged journal: move it aside and queue the study again from its run "
        "folders (finished runs are recorded without training, unfinished ones resume)",
    )

    changed = parser.add_mutually_exclusive_group()
    changed.add_argument(
        FLAGS[RETRAIN],
        dest="code_changes",
        action="store_const",
        const=RETRAIN,
        help="finished runs whose variant code changed since they were trained: train them "
        "again under the new code, as runs of their own (the old ones are kept and reported "
        "apart)",
    )
    changed.add_argument(
        FLAGS[KEEP],
        dest="code_changes",
        action="store_const",
        const=KEEP,
        help="finished runs whose variant code changed since they were trained: keep their "
        "results (the choice is logged in code_choices.jsonl)",
    )


def run(args: argparse.Namespace) -> int:
    if args.workers is None:
        gpus = len(visible_gpus())
        if not gpus and args.runs_per_gpu > 1:
            print(
                "no GPU here: --runs-per-gpu does not apply; one worker (--workers N starts "
                "N CPU processes)",
                file=sys.stderr,
            )
        args.workers = max(1, gpus * args.runs_per_gpu)
    if args.storage:
        check_url(args.storage)
    if args.workers < 0:
        raise ValueError(f"--workers must be >= 0 (0: only queue the runs), got {args.workers}")
    try:
        counts = run_study(
            load_study(args.study),
            workers=args.workers,
            storage=args.storage,
            results_root=args.results,
            report=not args.no_report,
            retry_failed=args.retry_failed,
            rebuild_queue=args.rebuild_queue,
            code_changes=args.code_changes,
        )
    except KeyboardInterrupt:
        print(
            "interrupted: the workers checkpointed their runs and put them back in the queue;"
            " run the same command again to go on",
            file=sys.stderr,
        )
        return 130
    return 1 if counts.get(FAILED) or counts.get("worker_errors") else 0
