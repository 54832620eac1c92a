"""Benchmark: `landscape plan`'s cost estimate against the wall time of actually running it.

    .venv/bin/python bench/plan_cost.py [--steps 100] [--keep DIR]

Plans a 4-run digits study (ns/hinge x none/gp, SNDCGAN width 1/8, batch 32, z_dim 32,
evaluated every steps/2 on 350 fakes), predicts its device-hours three ways, then runs it with
`landscape run --workers 1` into a temporary results folder and prints predicted/measured:

- committed: from landscape/cost/throughput.json as committed (what a user gets);
- measured now: from the speed of this very setting timed by bench/train_step.py's loop in
  this process, just before the run (same machine load: the fair check of the model);
- FLOP-scaled: from a speed timed now at width 1/4 only (the run's own setting withheld), so
  the FLOP scaling itself is checked.

The measured time is split into training (train.jsonl), evaluations (eval.jsonl) and the rest
(process start, data, checkpoints, the report), so it shows which part the estimate misses.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from train_step import cpu_name, host_speeds, our_loop  # noqa: E402

from landscape.cost.estimate import estimate  # noqa: E402
from landscape.study import grid_runs, load_study  # noqa: E402
from landscape.train.records import read_jsonl  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def study_file(folder: Path, steps: int) -> Path:
    data = {
        "name": "plan_cost",
        "dataset": "digits",
        "evaluation": {"samples": 350},
        "budget": {
            "steps": steps,
            "eval_every": steps // 2,
            "batch_size": 32,
            "checkpoint_every": steps,
        },
        "model": {"width": 0.125, "z_dim": 32},
        "grid": {
            "loss": ["ns", "hinge"],
            "penalty": ["none", "gp"],
            "normalization": ["sn"],
            "architecture": ["sndcgan"],
        },
        "hyperparameters": [{"lr": 0.0005, "n_disc": 1, "penalty_weight": 1}],
        "seeds": [0],
    }
    path = folder / "plan_cost.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def timed_entry(width: float, batch: int, steps: int) -> dict:
    """A throughput entry for SNDCGAN at ``width``, timed now (bench/train_step.py's loop)."""
    images = torch.randint(0, 256, (1024, 3, 32, 32), dtype=torch.uint8)
    speed = our_loop("sndcgan", width, batch, steps, torch.device("cpu"), images, "fp32")
    return dict(
        architecture="sndcgan",
        width=width,
        batch=batch,
        resolution=32,
        channels=3,
        device="cpu",
        device_name=cpu_name(),
        steps_per_second=speed,
    )


def measured_parts(results: Path) -> tuple[float, float]:
    """(training seconds, evaluation seconds) summed over the runs' own logs."""
    train = evals = 0.0
    for run in results.rglob("evals.jsonl"):
        records = read_jsonl(run)
        evals += sum(r["eval_seconds"] for r in records)
        status = json.loads((run.parent / "status.json").read_text())
        train += status["wall_time"] - sum(r["eval_seconds"] for r in records)
    return train, evals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="D steps per run")
    parser.add_argument("--keep", type=Path, help="results folder to keep (default: temporary)")
    args = parser.parse_args()
    # one thread for the timed loops and for the worker: on a CPU shared with other jobs, two
    # threads per process spin waiting for each other and time the machine's load, not ours
    torch.set_num_threads(1)
    os.environ["LANDSCAPE_THREADS"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        results = args.keep or Path(tmp) / "results"
        path = study_file(Path(tmp), args.steps)
        runs = grid_runs(load_study(path))
        started = time.perf_counter()
        own = timed_entry(0.125, 32, 30)
        other = timed_entry(0.25, 32, 15)
        host = {"cpu": host_speeds()}
        timing = time.perf_counter() - started
        predictions = {
            "committed": estimate(runs, device="cpu"),
            "measured now": estimate(runs, {"entries": [own], "host": host}),
            "FLOP-scaled (w1/4)": estimate(runs, {"entries": [other], "host": host}),
        }
        started = time.perf_counter()
        cmd = [str(Path(sys.executable).with_name("landscape")), "run", str(path), "--workers", "1"]
        subprocess.run(
            [*cmd, "--results", str(results)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL
        )
        wall = time.perf_counter() - started
        train, evals = measured_parts(results)
    print(
        f"{len(runs)} runs x {args.steps} steps, SNDCGAN w1/8 b32, {cpu_name()}; "
        f"timing the speeds took {timing:.0f} s; now timed: w1/8 "
        f"{own['steps_per_second']:.2f} steps/s, w1/4 {other['steps_per_second']:.2f}"
    )
    print(
        f"measured: {wall:.1f} s wall = {train:.1f} train + {evals:.1f} eval + "
        f"{wall - train - evals:.1f} other (start-up, data, checkpoints, report)"
    )
    print(
        f"{'estimate from':<20}{'train s':>9}{'eval s':>8}{'total s':>9}{'range s':>14}"
        f"{'/ wall':>8}{'/ train+eval':>14}"
    )
    for name, cost in predictions.items():
        total = cost.hours * 3600
        print(
            f"{name:<20}{cost.train_hours * 3600:9.1f}{cost.eval_hours * 3600:8.1f}"
            f"{total:9.1f}{cost.low * 3600:7.0f}-{cost.high * 3600:<6.0f}"
            f"{total / wall:8.2f}{total / (train + evals):14.2f}"
        )


if __name__ == "__main__":
    main()
