"""Print the runs a study would train, and how many are new, without training anything."""

from __future__ import annotations

import argparse
from pathlib import Path

from optuna.trial import TrialState

from landscape.cost.estimate import Estimate, describe, duration, estimate
from landscape.cost.pruned import pruned_share
from landscape.execution import results_dir
from landscape.execution.provenance import FLAGS, KEEP, RETRAIN, changed_runs
from landscape.execution.provenance import describe as code_lines
from landscape.execution.queue import Queue, counted, default_storage
from landscape.records import JOURNAL
from landscape.study import expected_runs, grid_runs, load_study, search_cells
from landscape.study.plan import cells, run_spec
from landscape.train.spec import as_recorded

HELP = "show the runs a study would train (new vs done) without training"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", type=Path, nargs="+", help="one or more study files (YAML)")
    parser.add_argument("--storage", help="Optuna storage URL (default: the study's journal)")
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--list", action="store_true", help="print every grid run")
    parser.add_argument(
        "--steps-per-second",
        type=float,
        help="training speed to estimate the cost with (default: the speed "
        "measured by bench/train_step.py --record)",
    )
    parser.add_argument(
        "--device",
        help="device kind to estimate the cost on, e.g. cuda or cpu (default: cuda when "
        "speeds measured on it are recorded, else the kind recorded)",
    )


def run(args: argparse.Namespace) -> int:
    for path in args.study:
        plan(path, args)
    return 0


def plan(path: Path, args: argparse.Namespace) -> None:
    study = load_study(path)
    results = results_dir(study, args.results)
    runs = grid_runs(study)
    queue = None
    if (results / JOURNAL).exists() or args.storage:
        queue = Queue(study, args.storage or default_storage(results), results)
    done = queue.run_ids((TrialState.COMPLETE,)) if queue else set()
    failed = queue.run_ids((TrialState.FAIL,)) if queue else set()
    known = queue.run_ids(tuple(TrialState)) if queue else set()
    runs = [as_recorded(r, known) for r in runs]  # ids recorded before 17.6 stay theirs
    new = [r for r in runs if r.run_id not in done | failed]
    n_failed = sum(r.run_id in failed for r in runs)
    print(f"study {study.name} on {study.dataset}: {expected_runs(study)} runs")
    retry = f", {n_failed} failed: `landscape run --retry-failed` trains them again"
    print(
        f"  grid: {len(runs)} runs ({len(new)} to train, {len(runs) - len(new) - n_failed} done"
        f"{retry if n_failed else ''})"
    )
    left = list(new) + search_runs_left(study, queue)
    if study.search:
        print(
            f"  search: {len(search_cells(study))} {study.search.sampler} searches x "
            f"{study.search.trials} trials ({len(left) - len(new)} to train)"
        )
    print(f"  budget: {study.steps} D steps per run, evaluated every {study.eval_every}")
    if queue is not None:
        print_code_changes(queue, results)
    cost = estimate(
        left, steps_per_second=args.steps_per_second, device=args.device, metrics=study.metrics
    )
    print_cost(cost)
    if study.search and study.search.pruner and left[len(new) :]:
        searched = estimate(
            left[len(new) :],
            steps_per_second=args.steps_per_second,
            device=args.device,
            metrics=study.metrics,
        )
        print_pruned(study, cost, searched)
    if args.list:
        for r in runs:
            mark = "done" if r.run_id in done else "FAIL" if r.run_id in failed else "new "
            print(
                f"  {mark} {r.run_id} {r.loss:7s} {r.penalty:7s} {r.normalization:5s} "
                f"{r.architecture:12s} lr={r.lr:g} b1={r.beta1:g} b2={r.beta2:g} "
                f"n_disc={r.n_disc} lambda={r.penalty_weight:g} seed={r.seed}"
            )


def print_code_changes(queue: Queue, results: Path) -> None:
    """Finished runs trained with variant code that has changed since (provenance.py)."""
    changed, unrecorded = changed_runs(queue, results)
    if changed:
        print(
            f"  code: {len(changed)} finished run(s) were trained with variant code that has "
            f"changed since; `landscape run` asks you to choose {FLAGS[RETRAIN]} or "
            f"{FLAGS[KEEP]}:\n{code_lines(changed)}"
        )
    if unrecorded:
        print(f"  code: {unrecorded} finished run(s) predate code records (their code is unknown)")


def print_cost(cost: Estimate) -> None:
    """Per-architecture device time (training + evaluations), a range, and how each figure
    was reached; runs that could not be costed are named, never silently left out."""
    if cost.lines:
        print(f"  cost of what is left, one run after another ({cost.device}):")
    for line in cost.lines:
        print(
            f"    {line.architecture}: {line.runs} runs, {duration(line.hours)} "
            f"({duration(line.train_hours)} training + {duration(line.eval_hours)} evaluations; "
            f"{duration(line.low)} to {duration(line.high)}); {describe(line)}"
        )
    if cost.lines:
        print(
            f"  total: about {cost.hours:,.2f} device-hours ({duration(cost.low)} to "
            f"{duration(cost.high)}); N devices at once take 1/N of it"
        )
    if cost.lines and not cost.host_counted:
        print(
            "  (evaluations without KID's and FID's CPU arithmetic: no host speed recorded for "
            "this device; bench/train_step.py --record times it)"
        )
    unmeasured = [a for a in cost.unmeasured if a not in cost.reasons]
    if unmeasured:
        print(
            f"  cost of {', '.join(unmeasured)}: unknown: no speed measured on "
            f"{cost.device}; run bench/train_step.py --record there, or give --steps-per-second"
        )
    for arch, reason in cost.reasons.items():
        print(f"  cost of {arch}: unknown: {reason}")


def print_pruned(study, cost: Estimate, searched: Estimate) -> None:
    """The expected cost with the search's pruner (cost/pruned.py), beside the unpruned one."""
    s = study.search
    share = pruned_share(s.pruner, s.pruner_options, study.steps, study.eval_every)
    if share is None:
        print(f"  with the {s.pruner} pruner: no estimate (it prunes by the FIDs, not by rungs)")
        return
    saved = searched.hours * (1 - share)
    print(
        f"  with the {s.pruner} pruner: about {duration(cost.hours - saved)} instead of "
        f"{duration(cost.hours)} (a search trial trains {share:.0%} of its D steps on average, "
        f"from the rungs; the first trials of a search are not pruned, so a short one spends more)"
    )


def search_runs_left(study, queue: Queue | None) -> list:
    """A stand-in run for every search trial still to train: its cell's run (for a search
    over the whole space, the grid's cells in turn), at the search's n_disc."""
    if study.search is None:
        return []
    finished = {}
    if queue is not None:
        for sc, optuna_study in queue.searches:
            finished[sc.key] = sum(t.state.is_finished() for t in counted(optuna_study))
    out, grid_cells = [], cells(study)
    for sc in search_cells(study):
        for i in range(study.search.trials - finished.get(sc.key, 0)):
            cell = sc.cell or grid_cells[i % len(grid_cells)]
            out.append(run_spec(study, cell, {"n_disc": sc.n_disc}, study.seeds[0], ""))
    return out
