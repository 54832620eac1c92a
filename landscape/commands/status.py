"""How far a study has got: runs done, running, failed (with their errors) and left."""

from __future__ import annotations

import argparse
from pathlib import Path

from landscape.execution import results_dir
from landscape.execution.queue import DONE, FAILED, PRUNED, RUNNING, Queue, default_storage
from landscape.execution.runner import print_failures
from landscape.execution.storage import check_url
from landscape.records import JOURNAL
from landscape.study import expected_runs, load_study

HELP = "show a study's progress"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", type=Path, help="the study file (YAML)")
    parser.add_argument("--storage", help="Optuna storage URL (default: the study's journal)")
    parser.add_argument("--results", type=Path, default=Path("results"))


def run(args: argparse.Namespace) -> int:
    if args.storage:
        check_url(args.storage)
    study = load_study(args.study)
    results = results_dir(study, args.results)
    if not args.storage and not (results / JOURNAL).exists():
        print(
            f"study {study.name} has not started: no {results / JOURNAL} (give "
            f"--results or --storage if it runs elsewhere)"
        )
        return 0
    queue = Queue(study, args.storage or default_storage(results), results)
    counts, total = queue.counts(), expected_runs(study)
    done, failed, running = counts[DONE] + counts[PRUNED], counts[FAILED], counts[RUNNING]
    cut = f" ({counts[PRUNED]} pruned early)" if counts[PRUNED] else ""
    print(
        f"study {study.name}: {done} done{cut}, {running} running, {failed} failed, "
        f"{max(total - done - failed - running, 0)} left of {total}"
    )
    for run_id, origin, worker, step in queue.running():
        at = f"at step {step}" if step is not None else "starting"
        print(f"  running: {run_id} ({origin or 'manual'}) {at} on {worker}")
    print_failures(queue)
    return 0
