"""Benchmark: report generation for a synthetic study of 10,000 runs.

    .venv/bin/python bench/report.py [--runs-dir DIR] [--keep]

Writes (or reuses, with --runs-dir) a fake study of 5 losses x 4 penalties x 4 normalizations
= 80 variants, each with 24 grid settings x 5 seeds + 5 search proposals = 125 runs, 11
evaluations per run (PAPER.md: every 20K of 200K steps, and step 0). Then times each stage of
write_report separately: loading the folder (I/O), the aggregations, the CSVs, the figures and
tables, and the HTML. The baseline is the I/O floor measured in the same process: reading
every config/status/evals file and parsing its JSON, which load_results cannot beat.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import pandas as pd  # noqa: E402
from fake_results import fake_study  # noqa: E402

from landscape.analysis import load_results  # noqa: E402
from landscape.report.analyse import analyse  # noqa: E402
from landscape.report.build import page_context, render  # noqa: E402
from landscape.report.sections import protocol_block  # noqa: E402
from landscape.report.tables import write_analysis_csvs, write_csvs  # noqa: E402

AXES = {
    "loss": ("ns", "wgan", "ls", "hinge", "mm"),
    "penalty": ("none", "gp", "dragan", "l2"),
    "normalization": ("none", "bn", "ln", "sn"),
}


def io_floor(study: Path) -> float:
    """Seconds to read and parse every file load_results reads: the baseline."""
    start = time.perf_counter()
    for folder in (study / "runs").iterdir():
        json.loads((folder / "config.json").read_text())
        status = folder / "status.json"
        if status.exists():
            json.loads(status.read_text())
        evals = folder / "evals.jsonl"
        if evals.exists():
            [json.loads(line) for line in evals.read_text().splitlines()]
    return time.perf_counter() - start


def timed(label: str, times: dict[str, float], fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    times[label] = time.perf_counter() - start
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", type=Path, help="reuse (or create) the study here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary study")
    args = parser.parse_args()
    root = args.runs_dir or Path(tempfile.mkdtemp(prefix="landscape-bench-"))
    study = root / "bench10k"
    if not (study / "runs").is_dir():
        start = time.perf_counter()
        fake_study(
            root,
            "bench10k",
            axes=AXES,
            grid=24,
            search=5,
            seeds=5,
            evals=11,
            diverged=0.08,
            failed=0.01,
            running=0,
            pending=0,
            samples="last",
        )
        print(f"wrote the synthetic study in {time.perf_counter() - start:.1f} s: {study}")
    times: dict[str, float] = {}
    floor = io_floor(study)
    results = timed("load", times, load_results, study)
    analyses = timed("aggregate", times, analyse, results)
    boards = [pa.board.drop(columns="variant") for pa in analyses]

    def csvs() -> None:
        write_csvs(results, pd.concat(boards), study)
        write_analysis_csvs(analyses, study)  # top5, budget, comparisons, findings

    timed("csv", times, csvs)
    (study / "figures").mkdir(exist_ok=True)
    hyper = list(results.hyper_columns)
    blocks = timed(
        "figures+tables",
        times,
        lambda: [protocol_block(pa, study / "figures", hyper) for pa in analyses],
    )
    page = timed("html", times, lambda: render(page_context(results, analyses, blocks, None, None)))
    (study / "report.html").write_text(page)
    total = sum(times.values())
    print(
        f"{len(results.runs)} runs, {len(results.evals)} evaluations, "
        f"{len(analyses[0].summary)} variants; report.html {len(page) / 1e6:.1f} MB"
    )
    print(f"I/O floor (read + parse every file): {floor:.2f} s")
    for label, seconds in times.items():
        ratio = f"  ({seconds / floor:.2f}x the I/O floor)" if label == "load" else ""
        print(f"  {label:15s} {seconds:6.2f} s{ratio}")
    print(f"  {'total':15s} {total:6.2f} s")
    if not args.keep and args.runs_dir is None:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
