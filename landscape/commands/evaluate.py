"""Score a study's finished runs again, from the generators they kept, without training: a
metric registered after the study ran (``landscape --plugin my_metric.py evaluate ...``), or the
same metrics under another protocol (``--samples``, ``--extractor``). Resumable (a scored step
is never scored twice) and parallel (``--workers``; more workers elsewhere with ``--join``).

Example: landscape --plugin my_metrics.py evaluate results/quickstart --workers 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import yaml

from landscape.commands.report import check_results_folder
from landscape.plugins import load_recorded
from landscape.records import RUNS_DIR, STUDY_COPY, run_dir

HELP = "score finished runs again (a new metric, another protocol) from their kept generators"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path, help="a study's results folder")
    parser.add_argument(
        "--samples", type=int, help="fakes per evaluation (default: the study's own protocol)"
    )
    parser.add_argument("--extractor", help="feature extractor (default: the study's own protocol)")
    parser.add_argument(
        "--metrics",
        help="comma-separated METRICS to compute, e.g. fid,fd_dinov2 (default: the study's "
        "metrics plus every metric on by default, a plugin's new one included)",
    )
    parser.add_argument("--workers", type=int, default=1, help="processes on this machine")
    parser.add_argument("--device", help="cuda, cuda:1 or cpu (default: CUDA when present)")
    parser.add_argument(
        "--data-root", type=Path, help="where data sets live (default: the study's)"
    )
    parser.add_argument("--storage", help="Optuna storage URL (default: the study's journal)")
    parser.add_argument("--cache-dir", type=Path, help="reference statistics cache")
    parser.add_argument(
        "--join", action="store_true", help="only take runs already queued (another process plans)"
    )


def run(args: argparse.Namespace) -> int:
    from landscape.evaluation import protocol_for
    from landscape.execution import evaluations as ev
    from landscape.execution.queue import default_storage

    check_results_folder(args.results)
    if args.workers < 1:
        raise ValueError(f"--workers {args.workers}: give 1 or more")
    # the plugins the runs were trained with; a helper (--join) loads them quietly
    load_recorded((args.results / RUNS_DIR).glob("*"), (lambda _: None) if args.join else say)
    copy = args.results / STUDY_COPY
    study = yaml.safe_load(copy.read_text()) if copy.is_file() else {}
    name = str(study.get("name") or args.results.name)
    data_root = args.data_root or study.get("data_root")
    storage = args.storage or default_storage(args.results)
    protocols: dict[str, object] = {}
    metrics = chosen_metrics(args.metrics, (study.get("evaluation") or {}).get("metrics"))

    def protocol(spec):
        p = protocol_for(
            spec.dataset,
            n_samples=args.samples if args.samples is not None else spec.eval_samples,
            extractor=args.extractor or spec.extractor,
            data_options=spec.data_options,
            metrics=metrics,
        )
        protocols[p.name] = p
        return p.as_dict()

    jobs, problems, done = ev.plan(args.results, protocol, metric_keys(metrics))
    for line in problems:
        print(f"cannot rescore {line}", file=sys.stderr)
    keys = {ev.eval_study_name(name, protocol(j.spec)) for j in jobs}
    if len(keys) > 1:
        raise ValueError(f"the runs of {args.results} fall under {len(keys)} protocols; one only")
    if not jobs:
        print(
            f"nothing to score: {done} finished run(s) scored already, {len(problems)} not "
            f"rescorable"
        )
        return 1 if problems else 0
    target = protocol(jobs[0].spec)
    queue = ev.EvalQueue(storage, keys.pop())
    if not args.join:
        queue.add([j.spec.run_id for j in jobs])
    if not args.join:
        print(
            f"{len(jobs)} run(s) to score under {target['name']} ({done} done already); "
            f"{args.workers} worker(s)",
            flush=True,
        )
    helpers = [_start_helper(args) for _ in range(args.workers - 1)]
    failed = _work(
        args, queue, protocols[target["name"]], protocol, data_root, metric_keys(metrics)
    )
    failed += sum(p.wait() != 0 for p in helpers)
    return 1 if failed or problems else 0


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def chosen_metrics(flag: str | None, listed: list | None) -> tuple[str, ...]:
    """``--metrics`` as given; else the study file's ``evaluation.metrics`` together with every
    metric on by default (so a plugin's metric registered after the study is computed)."""
    from landscape.metrics import default_metrics, selected_metrics

    if flag:
        names = [n.strip() for n in flag.split(",") if n.strip()]
        try:
            return selected_metrics(names)
        except KeyError as error:
            raise ValueError(f"--metrics {flag}: {error.args[0]}") from None
    return selected_metrics([*(listed or ()), *default_metrics()])


def metric_keys(metrics: tuple[str, ...]) -> set[str]:
    """The record keys the chosen metrics write: a step whose record has them is done."""
    from landscape.metrics import METRICS

    return {key for name in metrics for key in METRICS[name].keys}


def _start_helper(args: argparse.Namespace) -> subprocess.Popen:
    """Another worker process on this machine: this command with --join and one worker."""
    argv = [arg for plugin in getattr(args, "plugin", []) for arg in ("--plugin", plugin)]
    argv += ["evaluate", str(args.results), "--join", "--workers", "1"]
    for flag in ("samples", "extractor", "metrics", "device", "data_root", "storage", "cache_dir"):
        value = getattr(args, flag)
        if value is not None:
            argv += [f"--{flag.replace('_', '-')}", str(value)]
    return subprocess.Popen([sys.executable, "-m", "landscape", *argv])


def _work(args, queue, protocol, protocol_of, data_root, keys) -> int:
    """Take runs from the claim study until none waits; returns how many raised."""
    from landscape.evaluation import Evaluator
    from landscape.execution import evaluations as ev
    from landscape.train import pick_device

    device = pick_device(args.device)
    evaluate = Evaluator(protocol, data_root=data_root, device=device, cache_dir=args.cache_dir)
    failed = 0
    while (claim := queue.claim()) is not None:
        trial_id, number, run_id = claim
        try:
            job = ev.job_of(run_dir(args.results, run_id), protocol_of, keys)
            records = []
            if job is not None:
                records = ev.score_run(
                    job, evaluate, data_root, device, on_step=lambda r, t=trial_id: queue.beat(t)
                )
            queue.finish(number, ev.best_fid(records) if records else 0.0)
            fids = ", ".join(f"step {r['step']}: FID {r.get('fid')}" for r in records)
            print(f"[{os.getpid()}] run {run_id}: {fids or 'scored already'}", flush=True)
        except Exception as error:  # one run's problem: said, and the others go on
            failed += 1
            queue.finish(number, None)
            print(f"[{os.getpid()}] run {run_id}: not scored: {error}", file=sys.stderr, flush=True)
    return failed
