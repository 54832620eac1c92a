"""Write (or rewrite) the report of a results folder, finished or not."""

from __future__ import annotations

import argparse
from pathlib import Path

from landscape.errors import UserError
from landscape.records import JOURNAL, RUNS_DIR, STUDY_COPY

HELP = "write report.html, CSV tables and figures for a results folder"
MARKERS = (RUNS_DIR, STUDY_COPY, JOURNAL)  # what `landscape run` writes in a results folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path, help="a study's results folder")
    parser.add_argument("--expected-runs", type=int, help="runs the study will have in total")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="where `landscape floor` cached the real-data floors (default: $LANDSCAPE_CACHE, "
        "else ~/.cache/landscape)",
    )
    parser.add_argument(
        "--min-seeds",
        type=int,
        metavar="N",
        help="the leaderboard ranks settings with at least N finished seeds first (default: "
        "2, landscape.analysis.leaderboard.MIN_SEEDS: a one-seed search trial is not a "
        "variant's best setting while a replicated one exists; 1: rank by median FID alone)",
    )


def run(args: argparse.Namespace) -> int:
    from landscape.report import write_report

    check_results_folder(args.results)
    chosen = {} if args.min_seeds is None else {"min_seeds": args.min_seeds}
    path = write_report(
        args.results, expected_runs=args.expected_runs, cache_dir=args.cache_dir, **chosen
    )
    print(f"report: {path}")
    return 0


def is_results_folder(path: Path) -> bool:
    return path.is_dir() and any((path / marker).exists() for marker in MARKERS)


def check_results_folder(path: Path) -> None:
    """Refuse (writing nothing) anything but a study's results folder."""
    if is_results_folder(path):
        return
    inside = sorted(str(p) for p in path.glob("*") if is_results_folder(p)) if path.is_dir() else []
    hint = f"; it holds these: {', '.join(inside)}" if inside else ""
    what = "is not a folder" if path.exists() else "does not exist"
    if path.is_dir():
        what = f"is not a results folder (it has none of {', '.join(MARKERS)})"
    raise UserError(
        f"RESULTS {path}: {what}, so no report was written. Give the results folder of one "
        f"study, results/<study name> by default (`landscape run` makes it){hint}"
    )
