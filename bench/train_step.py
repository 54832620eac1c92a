"""Steps per second of landscape's training loop against the plain PyTorch DCGAN loop.

The baseline is PAPER.md Appendix A: what a researcher writes by hand (BCE, one D then one G
update, the fakes reused, nothing else). Both loops train the same architecture at the same
batch size on the same device in this process; the ratio measures only the loop's overhead
(or gains). Usage: python bench/train_step.py [--arch sndcgan resnet_cifar] [--device cuda]
       [--configs fp32 bf16 channels_last compile] [--record]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from landscape.data import ImageData
from landscape.train import RunSpec, pick_device, train
from landscape.train.records import read_jsonl
from landscape.variants import ARCHITECTURES


def plain_loop(
    arch: str, width: float, batch: int, steps: int, device: torch.device, images: torch.Tensor
) -> float:
    """Appendix A, timed over ``steps`` iterations after 3 warm-up ones; returns steps/s."""
    torch.manual_seed(0)
    size = images.shape[-1]
    G, D = (m.to(device) for m in ARCHITECTURES[arch](resolution=size, channels=3, width=width))
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    ones, zeros = torch.ones(batch, device=device), torch.zeros(batch, device=device)

    def step(i: int) -> None:
        real = images[torch.randint(len(images), (batch,), device=device)].float() / 255
        opt_d.zero_grad()
        F.binary_cross_entropy_with_logits(D(real), ones).backward()
        fake = G(torch.randn(batch, G.z_dim, device=device))
        F.binary_cross_entropy_with_logits(D(fake.detach()), zeros).backward()
        opt_d.step()
        opt_g.zero_grad()
        F.binary_cross_entropy_with_logits(D(fake), ones).backward()
        opt_g.step()

    for i in range(3):
        step(i)
    _sync(device)
    start = time.perf_counter()
    for i in range(steps):
        step(i)
    _sync(device)
    return steps / (time.perf_counter() - start)


def our_loop(
    arch: str,
    width: float,
    batch: int,
    steps: int,
    device: torch.device,
    images: torch.Tensor,
    precision: str,
    channels_last: bool = False,
    compile: bool = False,
) -> float:
    """landscape.train with ns loss, no penalty, n_disc 1: ``steps`` warm-up steps, then
    ``steps`` timed ones. The loop logs the time since its start at steps N and 2N (a GPU sync
    each), so start-up, compilation and the step-0 sample grid are outside the timed part."""
    spec = RunSpec(
        dataset="digits",
        architecture=arch,
        width=width,
        batch_size=batch,
        steps=2 * steps,
        eval_every=10**9,
        precision=precision,
    )
    with tempfile.TemporaryDirectory() as tmp:
        train(
            spec,
            tmp,
            device=device,
            data=ImageData("bench", "train", images.cpu()),
            checkpoint_every=10**9,
            log_every=steps,
            progress=False,
            channels_last=channels_last,
            compile=compile,
        )
        first, second = read_jsonl(Path(tmp) / "train.jsonl")
    return steps / (second["time"] - first["time"])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


CONFIGS = {  # name -> (precision, channels_last, compile)
    "fp32": ("fp32", False, False),
    "bf16": ("bf16", False, False),
    "channels_last": ("fp32", True, False),
    "compile": ("fp32", False, True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", nargs="+", default=["sndcgan"], choices=sorted(ARCHITECTURES))
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument(
        "--configs",
        nargs="+",
        default=["fp32"],
        choices=list(CONFIGS),
        help="landscape loop variants to time (compile takes minutes to warm)",
    )
    parser.add_argument(
        "--record",
        action="store_true",
        help="write the fp32 speeds to landscape/cost/throughput.json, the "
        "figures `landscape plan` estimates cost from",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    print(
        f"device={device} ({name}) torch={torch.__version__} threads={torch.get_num_threads()} "
        f"width={args.width:g} batch={args.batch} steps={args.steps}"
    )
    speeds = {}
    for arch in args.arch:
        size = ARCHITECTURES[arch].resolutions[0]  # 32, or 128 for resnet19
        images = torch.randint(0, 256, (1024, 3, size, size), dtype=torch.uint8, device=device)
        plain = plain_loop(arch, args.width, args.batch, args.steps, device, images)
        print(f"{arch:13s} plain loop (PAPER.md Appendix A) {plain:9.2f} steps/s   1.000")
        for config in args.configs:
            ours = our_loop(
                arch, args.width, args.batch, args.steps, device, images, *CONFIGS[config]
            )
            print(f"{arch:13s} landscape {config:22s} {ours:9.2f} steps/s   {ours / plain:.3f}")
            if config == "fp32":
                speeds[arch] = ours
    if args.record:
        host = host_speeds()
        print(
            f"host (KID, FID arithmetic): {host['seconds_per_element'] * 1e9:.1f} ns per kernel "
            f"element, {host['flops_per_second'] / 1e9:.2f} GFLOP/s float64"
        )
        record(speeds, host, f"{device.type}: {name}", args)


def host_speeds(size: int = 1000, subsets: int = 10) -> dict:
    """Seconds per KID kernel element and float64 FLOPs per second of this host, from KID
    (landscape.evaluation.scores.kid, torch-fidelity's numpy arithmetic) timed on random
    features of 64 and 1024 dimensions: the first is mostly elements, the second matmul.
    ``size`` is the protocols' KID subset size (1000): at 350 each subset's fixed overhead
    inflated the per-element time by ~45% (bench/RESULTS.md)."""
    from landscape.evaluation.scores import kid

    elements, times, flops = 3 * subsets * size * size, [], []
    for dim in (64, 1024):
        a, b = (
            torch.rand(size, dim, dtype=torch.float64),
            torch.rand(size, dim, dtype=torch.float64),
        )
        kid(a, b, subsets=1, subset_size=size)  # warm-up
        start = time.perf_counter()
        kid(a, b, subsets=subsets, subset_size=size)
        times.append(time.perf_counter() - start)
        flops.append(elements * 2 * dim)
    per_flop = max((times[1] - times[0]) / (flops[1] - flops[0]), 1e-12)
    per_element = max((times[0] - flops[0] * per_flop) / elements, 1e-12)
    return {"seconds_per_element": per_element, "flops_per_second": 1 / per_flop}


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            models = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        return f"{models[0]}, {torch.get_num_threads()} threads"
    except (OSError, IndexError):
        return platform.machine()


def record(speeds: dict[str, float], host: dict, device: str, args: argparse.Namespace) -> None:
    """Add one entry per architecture to throughput.json, replacing any for the same
    architecture, width, batch, resolution and device, and the host's speeds for the device
    kind (the CPU beside the device computes KID and FID)."""
    from dataclasses import asdict

    from landscape.cost.estimate import THROUGHPUT, entries, load_throughput

    kind, _, name = device.partition(":")
    new = [
        {
            "architecture": arch,
            "width": args.width,
            "batch": args.batch,
            "resolution": ARCHITECTURES[arch].resolutions[0],
            "channels": 3,
            "device": kind.strip(),
            "device_name": name.strip(),
            "steps_per_second": round(speed, 4),
            "date": time.strftime("%Y-%m-%d"),
            "torch": torch.__version__,
        }
        for arch, speed in speeds.items()
    ]
    fields = ("architecture", "width", "batch", "resolution", "device", "device_name")
    taken = {tuple(e[f] for f in fields) for e in new}
    table = load_throughput()
    old = table.get("entries", []) + [  # the first format: one setting for all, no dates
        {**asdict(e), "date": table.get("date"), "torch": table.get("torch")}
        for e in entries({k: v for k, v in table.items() if k != "entries"})
    ]
    kept = [e for e in old if tuple(e[f] for f in fields) not in taken]
    key = lambda e: (e["device"], e["architecture"], -(e["width"] or 0), -(e["batch"] or 0))  # noqa: E731
    hosts = {**table.get("host", {}), kind.strip(): {**host, "host_name": cpu_name()}}
    out = {"entries": sorted(kept + new, key=key), "host": hosts}
    THROUGHPUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"recorded in {THROUGHPUT}")


if __name__ == "__main__":
    main()
