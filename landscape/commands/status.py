"""How far a study has got: runs done, running (and where), failed (grouped by reason) and
left; throughput over a recent window, the ETA from it, the best FID so far, and the device
time spent in claims that did not finish. ``--watch`` refreshes it; ``--json`` is for scripts
(docs/studies.md, "Watching a study")."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from landscape.execution import results_dir
from landscape.execution.queue import Queue, default_storage
from landscape.execution.status import (
    LEFT,
    RUNNING,
    WINDOW,
    Summary,
    duration_text,
    line,
    read_rows,
    summarize,
)
from landscape.execution.storage import check_url
from landscape.execution.where import last_place
from landscape.records import JOURNAL, run_dir
from landscape.study import expected_runs, load_study

HELP = "show a study's progress"
WATCH_EVERY = 30.0  # seconds between refreshes of --watch without a number
CLEAR = "\x1b[H\x1b[2J"  # cursor home, clear the screen: --watch redraws in place on a terminal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", type=Path, help="the study file (YAML)")
    parser.add_argument("--storage", help="Optuna storage URL (default: the study's journal)")
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument(
        "--window",
        type=float,
        default=WINDOW / 60,
        metavar="MINUTES",
        help=f"measure the throughput over the last MINUTES (default {WINDOW / 60:g})",
    )
    parser.add_argument(
        "--watch",
        type=float,
        nargs="?",
        const=WATCH_EVERY,
        metavar="SECONDS",
        help=f"refresh every SECONDS (default {WATCH_EVERY:g}) until the study is through or "
        "Ctrl-C: redrawn in place on a terminal, one line each time otherwise",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document (with --watch: one a line)"
    )


def run(args: argparse.Namespace) -> int:
    if args.storage:
        check_url(args.storage)
    if args.window <= 0 or (args.watch is not None and args.watch <= 0):
        raise ValueError("--window and --watch take a positive number")
    study = load_study(args.study)
    results = results_dir(study, args.results)
    if not args.storage and not (results / JOURNAL).exists():
        print(
            f"study {study.name} has not started: no {results / JOURNAL} (give "
            f"--results or --storage if it runs elsewhere)"
        )
        return 0
    queue = Queue(study, args.storage or default_storage(results), results)
    total, tty = expected_runs(study), sys.stdout.isatty()

    def where(run_id: str) -> dict | None:
        return last_place(run_dir(results, run_id))

    try:
        while True:
            rows = read_rows(queue.studies())
            summary = summarize(study.name, rows, total, window=args.window * 60, where=where)
            show(summary, json_lines=args.json, watching=args.watch is not None, tty=tty)
            through = summary.counts[LEFT] + summary.counts[RUNNING] == 0
            if args.watch is None or through:
                return 0
            time.sleep(args.watch)
    except KeyboardInterrupt:
        return 0


def show(summary: Summary, *, json_lines: bool, watching: bool, tty: bool) -> None:
    if json_lines:
        print(json.dumps(summary.to_json()), flush=True)
    elif watching and not tty:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(summary.now))
        print(f"{stamp} {line(summary)}", flush=True)
    else:
        print((CLEAR if watching else "") + "\n".join(report(summary)), flush=True)


def report(s: Summary) -> list[str]:
    """The full view: the line, then each running run, the failures by reason, time lost."""
    out = [f"study {s.study}: {line(s)}"]
    if s.rate.per_hour is None:
        out.append(
            f"  throughput: no run finished in the last {duration_text(s.rate.window)}: no ETA"
        )
    if s.best:
        out.append(
            f"  best FID so far: {s.best['fid']:.4g} ({s.best['run_id']}, {s.best['origin']})"
        )
    for r in s.running:
        at = f"at step {r['step']}" if r["step"] is not None else "starting"
        of = f" of {r['steps']}" if r["steps"] is not None and r["step"] is not None else ""
        out.append(
            f"  running: {r['run_id']} ({r['origin'] or 'manual'}) {at}{of} on {r['worker']}"
        )
        if r["where"]:
            out.append(f"    {place_text(r['where'])}")
    for g in s.failures:
        runs = f"{g.runs} run(s) failed" if g.runs else "no run failed for good"
        retried = f", {g.retried} attempt(s) retried" if g.retried else ""
        ids = ", ".join(g.run_ids[:3]) + (" ..." if len(g.run_ids) > 3 else "")
        out.append(f"  failures: {runs}{retried}: {g.reason}" + (f" [{ids}]" if ids else ""))
    if any(g.runs for g in s.failures):
        out.append("  fix the cause, then `landscape run STUDY --retry-failed` trains them again")
    lost = {kind: sec for kind, sec in s.lost.items() if sec > 0}
    if lost:
        parts = ", ".join(
            f"{duration_text(sec)} {kind.replace('_', ' ')}" for kind, sec in lost.items()
        )
        out.append(f"  device time in claims that did not finish: {parts}")
    return out


def place_text(place: dict) -> str:
    slurm = place.get("slurm") or {}
    job = slurm.get("SLURM_JOB_ID")
    if slurm.get("SLURM_ARRAY_JOB_ID"):
        job = f"{slurm['SLURM_ARRAY_JOB_ID']}_{slurm.get('SLURM_ARRAY_TASK_ID', '?')}"
    v = place.get("versions") or {}
    libs = ", ".join(f"{k} {v[k]}" for k in ("torch", "torch-fidelity", "optuna") if v.get(k))
    return (
        f"on {place.get('host')}{f' (Slurm job {job})' if job else ''}, {place.get('device')}; "
        f"python {v.get('python')}, {libs}"
    )
