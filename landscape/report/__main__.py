"""``python -m landscape.report RESULTS_DIR``: (re)write the report of a results folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from landscape.analysis.leaderboard import MIN_SEEDS
from landscape.commands.report import check_results_folder
from landscape.errors import UserError
from landscape.report.build import write_report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="landscape report", description="Write report.html, CSVs and figures for a study."
    )
    parser.add_argument("results_dir", help="a results/<study>/ folder")
    parser.add_argument(
        "--expected-runs",
        type=int,
        default=None,
        help="how many runs the study will have in all (for partial reports)",
    )
    parser.add_argument(
        "--cache-dir",
        default=None,
        help="where `landscape floor` cached the real-data floors "
        "(default: $LANDSCAPE_CACHE, else ~/.cache/landscape)",
    )
    parser.add_argument(
        "--min-seeds",
        type=int,
        default=MIN_SEEDS,
        help="rank settings with at least this many seeds first (1: by median alone)",
    )
    args = parser.parse_args(argv)
    try:
        check_results_folder(Path(args.results_dir))  # nothing is written anywhere else
        path = write_report(
            args.results_dir,
            expected_runs=args.expected_runs,
            cache_dir=args.cache_dir,
            min_seeds=args.min_seeds,
        )
    except (FileNotFoundError, UserError) as err:
        print(f"landscape report: {err}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
