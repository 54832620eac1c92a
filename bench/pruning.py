"""Benchmark: does pruning find the unpruned search's best FID for less compute?

    .venv/bin/python bench/pruning.py run --arm unpruned --repeats 0 1 2 --out DIR
    .venv/bin/python bench/pruning.py run --arm asha --repeats 0 1 2 --out DIR
    .venv/bin/python bench/pruning.py noise --repeats 0 1 2 --out DIR   # seed noise, after unpruned
    .venv/bin/python bench/pruning.py summarize --out DIR [--plot bench/pruning.png]

The design, fixed before the first run (issue 19, point 3):

- Search space: digits, SNDCGAN at width 1/16, z_dim 16, batch 16, 240 D steps evaluated every
  30 (so 9 evaluations, step 0 included) on 200 fakes with the digits extractor; one GP search
  over loss {ns, hinge, wgan} x normalization {none, sn} (penalty none, n_disc 1), lr in
  [1e-5, 1e-2] (log), beta1 in [0, 0.9], beta2 in [0.9, 0.999]. 12 trials, the first 4 random.
  No grid runs: only the search is compared.
- Arms: `unpruned` (every trial trains 240 steps) and `asha` (successive halving,
  min_resource 30, reduction_factor 3: rungs at 30 and 90 D steps, a trial goes on if it is in
  the best third of those that reached the rung). Everything else equal.
- Repeats: search seeds 0, 1, 2; the same seed in both arms (so both propose the same first 4
  settings; later proposals differ once pruning has changed what the GP was told). Each arm's
  repeat has its own results folder, one worker, LANDSCAPE_WORKER_INDEX=0 (reproducible).
- Measured per trial, from the queue's own records: the status (ok / pruned), the D steps, the
  FLOPs (cost/flops.py: training + evaluations) and the device-seconds (the run's clock).
- Results: (1) best FID found (over finished, i.e. not pruned, trials) against cumulative
  FLOPs, per repeat; at the end of each arm: best FID and total FLOPs, and the ratio
  asha/unpruned of the FLOPs. (2) Seed noise: the unpruned arm's best setting of each repeat
  retrained with training seeds 1 and 2 (`noise`); the noise is the standard deviation of the
  FID over the three seeds. "Same best FID" means |best_asha - best_unpruned| <= 2 x noise.
  (3) Rank agreement at the full budget: Spearman and Kendall, over the settings both arms
  evaluated (same parameters), between the unpruned arm's final FID and the asha arm's value
  (its final FID, or the best FID so far where it was pruned); and, over every unpruned trial,
  between its FID at the first rung (step 30) and its final FID (how well the rung predicts).
- Also: the unpruned arm's best FID after spending the asha arm's total FLOPs (equal compute).
- Run as: asha repeats 0, 1, 2 in one process and unpruned repeats 0, 1 in another (nice, one
  torch thread each, on a 2-core machine shared with 7 other sessions), the seed-noise runs of
  repeat 0 when the unpruned repeat 0 ends; a repeat whose unpruned arm did not finish by the
  deadline is reported as partial (its FLOP ratio is not computed).
- Target (issue 19): asha reaches the unpruned best FID within seed noise for at most 40% of
  the unpruned FLOPs. Whatever it measures is written down (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml

from landscape.execution import Worker
from landscape.execution.queue import Attr, Queue, default_storage
from landscape.records import RunFiles, Status, is_score, run_dir
from landscape.study import load_study
from landscape.train import train
from landscape.train.records import read_jsonl

ARMS = {
    "unpruned": None,
    "asha": {"pruner": "asha", "pruner_options": {"min_resource": 30, "reduction_factor": 3}},
}
STEPS, EVAL_EVERY, FIRST_RUNG = 240, 30, 30
NOISE_SEEDS = (1, 2)


def study_data(arm: str, repeat: int) -> dict:
    search = {
        "sampler": "gp",
        "scope": "space",
        "trials": 12,
        "startup_trials": 4,
        "seed": repeat,
        "n_disc": [1],
        "ranges": {"lr": [1e-5, 1e-2, "log"], "beta1": [0.0, 0.9], "beta2": [0.9, 0.999]},
        **(ARMS[arm] or {}),
    }
    return {
        "name": f"pruning_{arm}_{repeat}",
        "dataset": "digits",
        "evaluation": {"samples": 200},
        "budget": {
            "steps": STEPS,
            "eval_every": EVAL_EVERY,
            "batch_size": 16,
            "checkpoint_every": STEPS,
            "log_every": EVAL_EVERY,
        },
        "model": {"width": 0.0625, "z_dim": 16},
        "grid": {
            "loss": ["ns", "hinge", "wgan"],
            "penalty": ["none"],
            "normalization": ["none", "sn"],
            "architecture": ["sndcgan"],
        },
        "hyperparameters": [{"lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "n_disc": 1}],
        "seeds": [0],
        "search": search,
    }


def folder(out: Path, arm: str, repeat: int) -> Path:
    return out / arm / str(repeat)


def open_arm(out: Path, arm: str, repeat: int):
    root = folder(out, arm, repeat)
    root.mkdir(parents=True, exist_ok=True)
    path = root / "study.yaml"
    path.write_text(yaml.safe_dump(study_data(arm, repeat)))
    return load_study(path), root


def run_arm(out: Path, arm: str, repeat: int) -> None:
    """The search only: the grid is never queued, so the worker takes only proposals."""
    os.environ["LANDSCAPE_WORKER_INDEX"] = "0"
    study, root = open_arm(out, arm, repeat)
    Worker(study, root, default_storage(root), device="cpu").run()


def trials(out: Path, arm: str, repeat: int) -> list[dict]:
    """One dict per recorded search trial, in trial order, from the queue and the run folder."""
    root = folder(out, arm, repeat)
    if not (root / "study.yaml").exists():
        return []
    study = load_study(root / "study.yaml")
    queue = Queue(study, default_storage(root), root)
    rows = []
    for _, optuna_study in queue.searches:
        for t in optuna_study.get_trials(deepcopy=False):
            if Attr.VOID in t.user_attrs or t.value is None:
                continue
            evals = read_jsonl(run_dir(root, t.user_attrs[Attr.RUN_ID]) / RunFiles.EVAL_LOG)
            fid_at = {e["step"]: e["fid"] for e in evals if is_score(e.get("fid"))}
            rows.append(
                {
                    "number": t.number,
                    "params": {k: v for k, v in sorted(t.params.items())},
                    "run_id": t.user_attrs[Attr.RUN_ID],
                    "status": t.user_attrs.get(Attr.STATUS),
                    "value": t.value,
                    "steps": t.user_attrs.get(Attr.D_STEPS),
                    "flops": t.user_attrs.get(Attr.FLOPS),
                    "seconds": t.user_attrs.get(Attr.DEVICE_SECONDS),
                    "fid_at": fid_at,
                }
            )
    return sorted(rows, key=lambda r: r["number"])


def noise(out: Path, repeat: int) -> None:
    """Retrain the unpruned arm's best setting with other training seeds; FIDs to noise.json."""
    rows = [r for r in trials(out, "unpruned", repeat) if r["status"] == Status.OK]
    if not rows:
        return
    best = min(rows, key=lambda r: r["value"])
    study, root = open_arm(out, "unpruned", repeat)
    worker = Worker(study, root, default_storage(root), device="cpu")
    spec_record = json.loads((run_dir(root, best["run_id"]) / RunFiles.CONFIG).read_text())
    from landscape.train import RunSpec

    spec = RunSpec.from_record(spec_record)
    fids = [best["value"]]
    for seed in NOISE_SEEDS:
        other = replace(spec, seed=seed)
        where = root / "noise" / other.run_id
        train(other, where, device="cpu", evaluate=worker.evaluator(other), data=worker.data(other))
        fids.append(
            min(e["fid"] for e in read_jsonl(where / RunFiles.EVAL_LOG) if is_score(e.get("fid")))
        )
    (root / "noise.json").write_text(json.dumps({"run_id": best["run_id"], "fids": fids}))


def curve(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(cumulative FLOPs, best FID of the finished trials so far) after each trial."""
    flops = np.cumsum([r["flops"] or 0.0 for r in rows])
    best, out = np.inf, []
    for r in rows:
        if r["status"] != Status.PRUNED:
            best = min(best, r["value"])
        out.append(best)
    return flops, np.array(out)


def rank_agreement(a: list[float], b: list[float]) -> tuple[float, float, int]:
    from scipy.stats import kendalltau, spearmanr

    if len(a) < 3:
        return float("nan"), float("nan"), len(a)
    return float(spearmanr(a, b)[0]), float(kendalltau(a, b)[0]), len(a)


def summarize(out: Path, plot: Path | None) -> dict:
    repeats = sorted({int(p.name) for arm in ARMS for p in (out / arm).glob("*") if p.is_dir()})
    summary: dict = {"repeats": {}}
    for rep in repeats:
        full, cut = trials(out, "unpruned", rep), trials(out, "asha", rep)
        entry: dict = {}
        for arm, rows in (("unpruned", full), ("asha", cut)):
            flops, best = curve(rows)
            entry[arm] = {
                "trials": len(rows),
                "pruned": sum(r["status"] == Status.PRUNED for r in rows),
                "best_fid": float(best[-1]) if len(best) else None,
                "flops": float(flops[-1]) if len(flops) else 0.0,
                "seconds": float(sum(r["seconds"] or 0.0 for r in rows)),
                "steps": int(sum(r["steps"] or 0 for r in rows)),
            }
        noise_file = folder(out, "unpruned", rep) / "noise.json"
        if noise_file.exists():
            entry["noise_fids"] = json.loads(noise_file.read_text())["fids"]
            entry["noise_sd"] = float(np.std(entry["noise_fids"], ddof=1))
        key = lambda r: json.dumps(r["params"], sort_keys=True)  # noqa: E731
        by_params = {key(r): r for r in full if r["status"] == Status.OK}
        shared = [(by_params[key(r)]["value"], r["value"]) for r in cut if key(r) in by_params]
        entry["shared"] = rank_agreement(*zip(*shared, strict=True)) if shared else (None, None, 0)
        early = [(r["fid_at"].get(FIRST_RUNG), r["value"]) for r in full if r["fid_at"]]
        early = [(a, b) for a, b in early if a is not None]
        entry["rung_vs_final"] = (
            rank_agreement(*zip(*early, strict=True)) if early else (None, None, 0)
        )
        if entry["unpruned"]["flops"] and entry["asha"]["trials"] == entry["unpruned"]["trials"]:
            entry["flops_ratio"] = entry["asha"]["flops"] / entry["unpruned"]["flops"]
            if entry["asha"]["best_fid"] is not None:
                entry["fid_gap"] = entry["asha"]["best_fid"] - entry["unpruned"]["best_fid"]
            # the compute asha needed to reach the unpruned best within 2 seed-noise sds
            if "noise_sd" in entry:
                flops, best = curve(cut)
                hit = np.nonzero(best <= entry["unpruned"]["best_fid"] + 2 * entry["noise_sd"])[0]
                entry["reached_at_ratio"] = (
                    float(flops[hit[0]] / entry["unpruned"]["flops"]) if hit.size else None
                )
        if full and cut:  # what the unpruned search had found after spending asha's compute
            flops, best = curve(full)
            spent = np.nonzero(flops <= entry["asha"]["flops"])[0]
            entry["unpruned_best_at_asha_flops"] = float(best[spent[-1]]) if spent.size else None
        summary["repeats"][rep] = entry
    if plot is not None and repeats:
        draw(out, repeats, plot)
    return summary


def draw(out: Path, repeats: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    colours = {"unpruned": "tab:blue", "asha": "tab:orange"}
    for arm in ARMS:
        for i, rep in enumerate(repeats):
            rows = trials(out, arm, rep)
            if not rows:
                continue
            flops, best = curve(rows)
            ax.step(
                flops / 1e12,
                best,
                where="post",
                color=colours[arm],
                alpha=0.8,
                label=arm if i == 0 else None,
                linestyle=["-", "--", ":"][i % 3],
            )
    ax.set_xlabel("compute spent (TFLOPs: training + evaluations)")
    ax.set_ylabel("best FID found (digits extractor)")
    ax.set_title("GP search, 12 trials: unpruned vs ASHA (line style: repeat)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["run", "noise", "summarize"])
    parser.add_argument("--arm", choices=list(ARMS))
    parser.add_argument("--repeats", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # two arms side by side on a shared 2-core machine: no spinning
    if args.what == "run":
        for rep in args.repeats:
            run_arm(args.out, args.arm, rep)
            print(f"{args.arm} repeat {rep} done", flush=True)
    elif args.what == "noise":
        for rep in args.repeats:
            noise(args.out, rep)
            print(f"noise repeat {rep} done", flush=True)
    else:
        print(json.dumps(summarize(args.out, args.plot), indent=1, default=str))


if __name__ == "__main__":
    sys.exit(main())
