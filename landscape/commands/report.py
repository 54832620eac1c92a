"""Write (or rewrite) the report of a results folder, finished or not."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "write report.html, CSV tables and figures for a results folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path, help="a study's results folder")
    parser.add_argument("--expected-runs", type=int, help="runs the study will have in total")


def run(args: argparse.Namespace) -> int:
    from landscape.report import write_report

    if not args.results.is_dir():
        raise FileNotFoundError(f"no results folder at {args.results}")
    print(f"report: {write_report(args.results, expected_runs=args.expected_runs)}")
    return 0
