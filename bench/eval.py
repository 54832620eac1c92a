"""Benchmark: one evaluation of N fakes (default 10,000) with a cold and a warm cache.

    .venv/bin/python bench/eval.py [--n-samples 10000] [--width 0.25] [--device cpu]

Uses the offline ``digits`` protocol (``digits-cnn`` extractor, 350 real test digits), so it
runs anywhere. Three cache states, each in a fresh process-local Evaluator:

- cold:       empty cache: the extractor is trained and the reference features computed;
- stats-cold: the extractor is cached, the reference statistics are not;
- warm:       both cached (what every evaluation after the first one in a study costs).

Each state is measured ``--repeat`` times in fresh cache folders and the fastest run reported
(the machine may be shared). The baseline, measured in the same process after a warm-up (the
fastest of its runs, interleaved with the evaluations), is sampling the same N fakes from G
alone, so the ratios say what the evaluation adds on top of generating the images (DESIGN.md:
benchmarks report ratios against a baseline measured in the same run).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import torch

from landscape import ARCHITECTURES
from landscape.evaluation import Evaluator, protocol_for
from landscape.evaluation.digits_cnn import WEIGHTS_FILE


def sample_only(G, n: int, device: torch.device) -> float:
    """Seconds to draw the protocol's z and run G over it in batches of 64 (the baseline)."""
    start = time.perf_counter()
    G.eval()
    with torch.no_grad():
        z = G.sample_z(n, device=device, generator=torch.Generator(device).manual_seed(42))
        for zb in z.split(64):
            G(zb)
    return time.perf_counter() - start


def timed_evaluation(protocol, cache: Path, G, device: torch.device) -> tuple[list[float], dict]:
    """([seconds for the extractor, the reference, the fakes' evaluation], the scores)."""
    marks = [time.perf_counter()]
    evaluator = Evaluator(protocol, cache_dir=cache, device=device)  # trains digits-cnn if cold
    marks.append(time.perf_counter())
    evaluator.prepare()  # computes the real features if the statistics are not cached
    marks.append(time.perf_counter())
    scores = evaluator(G)
    marks.append(time.perf_counter())
    return [b - a for a, b in zip(marks, marks[1:], strict=False)], scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-samples", type=int, default=10_000)
    parser.add_argument("--width", type=float, default=0.25, help="SNDCGAN width multiplier")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=3, help="report the fastest of N runs")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    G = ARCHITECTURES["sndcgan"](resolution=32, channels=1, width=args.width).generator.to(device)
    protocol = protocol_for("digits", n_samples=args.n_samples)

    sample_only(G, 256, device)  # warm-up: first calls pay for allocation and kernel choice
    baselines = [sample_only(G, protocol.n_fake, device)]
    runs: dict[str, list] = {"cold": [], "stats-cold": [], "warm": []}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            cold, stats_cold, warm = (Path(tmp) / name for name in runs)
            runs["cold"].append(timed_evaluation(protocol, cold, G, device))
            (stats_cold / "extractors").mkdir(parents=True)
            shutil.copy(cold / "extractors" / WEIGHTS_FILE, stats_cold / "extractors")
            runs["stats-cold"].append(timed_evaluation(protocol, stats_cold, G, device))
            shutil.copytree(cold, warm)
            runs["warm"].append(timed_evaluation(protocol, warm, G, device))
        baselines.append(sample_only(G, protocol.n_fake, device))
    baseline = min(baselines)  # the least disturbed run: this machine may be shared
    report(protocol, args, device, baseline, runs)


def report(protocol, args, device, baseline: float, runs: dict[str, list]) -> None:
    print(
        f"protocol {protocol.name} on {device} ({torch.get_num_threads()} threads), "
        f"SNDCGAN width {args.width}, fastest of {args.repeat}"
    )
    print(
        f"{'cache':<11}{'extractor':>10}{'reference':>10}{'fakes':>8}{'total s':>9}"
        f"{'x sampling':>11}"
    )
    print(f"{'(sampling)':<11}{'':>10}{'':>10}{baseline:8.2f}{baseline:9.2f}{1.0:11.2f}")
    for name, results in runs.items():
        parts, _ = min(results, key=lambda r: sum(r[0]))
        total = sum(parts)
        cells = "".join(f"{t:{w}.2f}" for t, w in zip(parts, (10, 10, 8), strict=True))
        print(f"{name:<11}{cells}{total:9.2f}{total / baseline:11.2f}")
    scores = {
        json.dumps({k: v for k, v in r[1].items() if k != "protocol"})
        for results in runs.values()
        for r in results
    }
    print(f"scores identical across cache states and repeats: {len(scores) == 1}")
    print(next(iter(scores)))


if __name__ == "__main__":
    main()
