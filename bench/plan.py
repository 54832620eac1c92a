"""Benchmark: `landscape plan` of each paper study, the cost estimate per distinct model (FLOP
counts kept on disk, landscape/cost/cache.py) against the old per-run path, in the same run.

    .venv/bin/python bench/plan.py [studies/paper/cifar10_loss.yaml ...]

For each study, each in a fresh process (so nothing is shared through memory):

- old: the estimate priced run by run, FLOPs counted in the process (what `plan` did before);
- cold: per distinct model, with an empty FLOP cache (a first `plan` on a machine);
- warm: per distinct model, every count read from the cache (every later `plan`);
- command: the whole `landscape plan STUDY` (start-up, study validation, queue, estimate)
  with a warm cache, wall and CPU seconds (the median of three invocations).

Every mode prints its estimate's total: the figures must be identical. Times are CPU seconds
of the process (``time.process_time``) and wall seconds; on a shared machine the CPU figures
are the ones to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAPER = sorted(p for p in (ROOT / "studies" / "paper").glob("*.yaml") if "_" != p.name[0])
PAPER = [p for p in PAPER if not p.name.startswith("targets_")]


def one(path: str, mode: str) -> dict:
    """Time one mode in this process; the estimate's numbers come back to compare."""
    wall, cpu = time.perf_counter(), time.process_time()
    from landscape.commands.plan import search_runs_left
    from landscape.cost.cache import FlopCounts
    from landscape.cost.estimate import estimate
    from landscape.study import grid_runs, load_study

    study = load_study(Path(path))
    runs = grid_runs(study) + search_runs_left(study, None)
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    if mode == "old":
        cost = estimate(runs, counts=FlopCounts(), per_run=True)
    else:
        cost = estimate(runs)  # the counts on disk ($LANDSCAPE_CACHE)
    return {
        "runs": len(runs),
        "start_cpu": t_cpu - cpu,
        "start_wall": t_wall - wall,
        "estimate_cpu": time.process_time() - t_cpu,
        "estimate_wall": time.perf_counter() - t_wall,
        "hours": [cost.hours, cost.low, cost.high],
        "lines": repr(cost.lines),
    }


def child(args: list[str], env: dict) -> tuple[str, float, float]:
    """Run a command; (stdout, wall seconds, CPU seconds of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True, env=env, check=True).stdout
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out, wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("studies", nargs="*", type=Path, default=PAPER)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.mode)))
        return
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as results:
        env["LANDSCAPE_CACHE"] = cache
        print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print("| study | runs | old estimate | cold estimate | warm estimate | start-up | "
              "`landscape plan` (warm) | same figures |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        for path in args.studies:
            env["LANDSCAPE_CACHE"] = str(Path(cache) / path.stem)  # cold for each study
            got = {}
            for mode in ("old", "cold", "warm"):
                out, _, _ = child(
                    [sys.executable, __file__, "--one", str(path), "--mode", mode], env
                )
                got[mode] = json.loads(out)
            command = [sys.executable, "-m", "landscape.cli", "plan", str(path)]
            times = sorted(child([*command, "--results", results], env)[1:] for _ in range(3))
            wall, cpu = times[1]  # the median of three, by wall time
            same = got["old"]["lines"] == got["cold"]["lines"] == got["warm"]["lines"]
            same = same and got["old"]["hours"] == got["warm"]["hours"]
            o, c, w = (got[m] for m in ("old", "cold", "warm"))
            print(
                f"| {path.stem} | {o['runs']} | {o['estimate_cpu']:.2f} s | "
                f"{c['estimate_cpu']:.2f} s | {w['estimate_cpu']:.3f} s | "
                f"{w['start_cpu']:.2f} s | {cpu:.2f} s CPU, {wall:.1f} s wall | "
                f"{'yes' if same else 'NO'} |",
                flush=True,
            )
        print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
