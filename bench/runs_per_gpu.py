"""Total training throughput with 1, 2, 4, 8 runs sharing one device.

Small GAN models leave a large GPU mostly idle; running several at once on it can multiply the
study's throughput. This starts K processes at once, each training the same small run on the
same device (pinned like `landscape run` pins its workers), and reports the sum of their
steps per second against K = 1 measured in the same invocation. Choose `--runs-per-gpu`
from where the total stops growing.
Usage: python bench/runs_per_gpu.py [--device cuda] [--counts 1 2 4 8] [--width 1]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp

import torch
from train_step import our_loop  # the loop timed as bench/train_step.py times it


def one_run(args: tuple[str, str, float, int, int], barrier, out) -> None:
    device, arch, width, batch, steps = args
    if device == "cpu":  # K processes on K cores, not K x all cores
        torch.set_num_threads(1)
    images = torch.randint(0, 256, (4096, 3, 32, 32), dtype=torch.uint8)
    barrier.wait()
    out.put(our_loop(arch, width, batch, steps, torch.device(device), images, "fp32"))


def total_throughput(k: int, run_args: tuple) -> float:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(k), ctx.Queue()
    procs = [ctx.Process(target=one_run, args=(run_args, barrier, out)) for _ in range(k)]
    for p in procs:
        p.start()
    speeds = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return sum(speeds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--arch", default="sndcgan")
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()
    run_args = (args.device, args.arch, args.width, args.batch, args.steps)
    print(f"device={args.device} arch={args.arch} width={args.width:g} batch={args.batch}")
    base = None
    for k in args.counts:
        total = total_throughput(k, run_args)
        base = base or total
        print(f"{k} run(s) at once: {total:8.2f} steps/s in total   x{total / base:.2f}")


if __name__ == "__main__":
    main()
