"""Does bf16 autocast keep results? fp32 and bf16 runs of one setting, several seeds each.

Trains the same small study cell (digits, SNDCGAN, NS loss, SN) in both precisions, evaluates
each run with the digits protocol, and prints the best FID of every run, the mean and spread
per precision, and the time per run. bf16 "keeps results" when its FIDs fall within the
seed-to-seed spread of fp32's. Usage: python bench/precision.py [--seeds 4] [--device cuda]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from landscape.data import load
from landscape.evaluation import Evaluator, best_evaluation, protocol_for
from landscape.train import RunSpec, pick_device, train
from landscape.train.records import read_jsonl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--width", type=float, default=0.125)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    device = pick_device(args.device)
    data = load("digits", "train")
    evaluate = Evaluator(protocol_for("digits"), device=device)
    fids: dict[str, list[float]] = {"fp32": [], "bf16": []}
    seconds: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for seed in range(args.seeds):
        for precision in fids:
            spec = RunSpec(
                dataset="digits",
                architecture="sndcgan",
                normalization="sn",
                width=args.width,
                z_dim=32,
                batch_size=32,
                steps=args.steps,
                eval_every=args.steps // 4,
                lr=5e-4,
                seed=seed,
                precision=precision,
            )
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                train(spec, tmp, device=device, evaluate=evaluate, data=data, progress=False)
                seconds[precision].append(time.perf_counter() - start)
                best = best_evaluation(read_jsonl(f"{tmp}/evals.jsonl"))
                fids[precision].append(best["fid"] if best else float("nan"))
            print(
                f"seed {seed} {precision}: best FID {fids[precision][-1]:.3f} "
                f"in {seconds[precision][-1]:.1f}s",
                flush=True,
            )
    print(f"device={device} steps={args.steps} width={args.width:g} seeds={args.seeds}")
    for precision, values in fids.items():
        print(
            f"{precision}: FID mean {statistics.mean(values):.3f} sd "
            f"{statistics.stdev(values):.3f}; {statistics.mean(seconds[precision]):.1f} s/run"
        )
    gap = abs(statistics.mean(fids["bf16"]) - statistics.mean(fids["fp32"]))
    print(
        f"|mean bf16 - mean fp32| = {gap:.3f} vs fp32 seed sd {statistics.stdev(fids['fp32']):.3f}"
    )


if __name__ == "__main__":
    main()
