"""How far a study has got: runs done, running, failed and left."""

from __future__ import annotations

import argparse
from pathlib import Path

from landscape.study import expected_runs, load_study, results_dir
from landscape.study.queue import Queue, default_storage

HELP = "show a study's progress"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", type=Path, help="the study file (YAML)")
    parser.add_argument("--storage", help="Optuna storage URL (default: the study's journal)")
    parser.add_argument("--results", type=Path, default=Path("results"))


def run(args: argparse.Namespace) -> int:
    study = load_study(args.study)
    results = results_dir(study, args.results)
    if not args.storage and not (results / "optuna.journal").exists():
        print(
            f"study {study.name} has not started: no {results / 'optuna.journal'} (give "
            f"--results or --storage if it runs elsewhere)"
        )
        return 0
    queue = Queue(study, args.storage or default_storage(results), results)
    counts, total = queue.counts(), expected_runs(study)
    done, failed, running = counts["done"], counts["failed"], counts["running"]
    print(
        f"study {study.name}: {done} done, {running} running, {failed} failed, "
        f"{max(total - done - failed - running, 0)} left of {total}"
    )
    return 0
