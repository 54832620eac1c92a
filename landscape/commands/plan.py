"""Print the runs a study would train, and how many are new, without training anything."""

from __future__ import annotations

import argparse
from pathlib import Path

from optuna.trial import TrialState

from landscape.study import expected_runs, grid_runs, load_study, results_dir, search_cells
from landscape.study.cost import estimate
from landscape.study.queue import Queue, default_storage

HELP = "show the runs a study would train (new vs done) without training"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", type=Path, help="the study file (YAML)")
    parser.add_argument("--storage", help="Optuna storage URL (default: the study's journal)")
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--list", action="store_true", help="print every grid run")
    parser.add_argument(
        "--steps-per-second",
        type=float,
        help="training speed to estimate the cost with (default: the speed "
        "measured by bench/train_step.py --record)",
    )


def run(args: argparse.Namespace) -> int:
    study = load_study(args.study)
    results = results_dir(study, args.results)
    runs = grid_runs(study)
    done: set[str] = set()
    if (results / "optuna.journal").exists() or args.storage:
        queue = Queue(study, args.storage or default_storage(results), results)
        done = queue.run_ids((TrialState.COMPLETE,))
    new = [r for r in runs if r.run_id not in done]
    searches = search_cells(study)
    trials = study.search.trials if study.search else 0
    print(f"study {study.name} on {study.dataset}: {expected_runs(study)} runs")
    print(f"  grid: {len(runs)} runs ({len(new)} to train, {len(runs) - len(new)} done)")
    if searches:
        print(f"  search: {len(searches)} {study.search.sampler} searches x {trials} trials")
    print(f"  budget: {study.steps} D steps per run, evaluated every {study.eval_every}")
    total_runs = list(new)
    if study.search:  # search trials train like the grid's runs of their cell
        cell_runs = {(r.loss, r.penalty, r.normalization, r.architecture): r for r in runs}
        per_cell = study.search.trials * len(study.search.n_disc)
        total_runs += [r for r in cell_runs.values() for _ in range(per_cell)]
    cost = estimate(total_runs, steps_per_second=args.steps_per_second)
    print(
        f"  cost: about {cost.hours:,.1f} device-hours for what is left, at the speed "
        f"measured on: {cost.device}"
    )
    if cost.unmeasured:
        print(
            f"  (no measured speed for {', '.join(cost.unmeasured)}: not counted; "
            f"run bench/train_step.py --record on your GPU, or give --steps-per-second)"
        )
    if args.list:
        for r in runs:
            mark = "done" if r.run_id in done else "new "
            print(
                f"  {mark} {r.run_id} {r.loss:7s} {r.penalty:7s} {r.normalization:5s} "
                f"{r.architecture:12s} lr={r.lr:g} b1={r.beta1:g} b2={r.beta2:g} "
                f"n_disc={r.n_disc} lambda={r.penalty_weight:g} seed={r.seed}"
            )
    return 0
