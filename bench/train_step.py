"""Steps per second of landscape's training loop against the plain PyTorch DCGAN loop.

The baseline is PAPER.md Appendix A: what a researcher writes by hand (BCE, one D then one G
update, the fakes reused, nothing else). Both loops train the same architecture at the same
batch size on the same device in this process; the ratio measures only the loop's overhead
(or gains). Usage: python bench/train_step.py [--arch sndcgan] [--device cuda] [--steps 50]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
import torch.nn.functional as F

from landscape.data import ImageData
from landscape.train import RunSpec, pick_device, train
from landscape.variants import ARCHITECTURES


def plain_loop(
    arch: str, width: float, batch: int, steps: int, device: torch.device, images: torch.Tensor
) -> float:
    """Appendix A, timed over ``steps`` iterations after 3 warm-up ones; returns steps/s."""
    torch.manual_seed(0)
    G, D = (m.to(device) for m in ARCHITECTURES[arch](resolution=32, channels=3, width=width))
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
) -> float:
    """landscape.train with ns loss, no penalty, n_disc 1; steps/s from two runs' difference
    (steps + 3 minus 3) so start-up, the step-0 sample grid and the first checkpoint cancel."""
    data = ImageData("bench", "train", images.cpu())

    def timed(n: int) -> float:
        spec = RunSpec(
            dataset="digits",
            architecture=arch,
            width=width,
            batch_size=batch,
            steps=n,
            eval_every=10**9,
            precision=precision,
        )
        with tempfile.TemporaryDirectory() as tmp:
            _sync(device)
            start = time.perf_counter()
            train(
                spec,
                tmp,
                device=device,
                data=data,
                checkpoint_every=10**9,
                log_every=100,
                progress=False,
            )
            _sync(device)
            return time.perf_counter() - start

    short, long = timed(3), timed(3 + steps)
    return steps / (long - short)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="sndcgan", choices=["sndcgan", "dcgan", "resnet_cifar"])
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--device", default=None)
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    args = parser.parse_args()
    device = pick_device(args.device)
    images = torch.randint(0, 256, (4096, 3, 32, 32), dtype=torch.uint8, device=device)
    plain = plain_loop(args.arch, args.width, args.batch, args.steps, device, images)
    ours = our_loop(args.arch, args.width, args.batch, args.steps, device, images, args.precision)
    print(
        f"device={device} torch={torch.__version__} arch={args.arch} width={args.width:g} "
        f"batch={args.batch} precision={args.precision}"
    )
    print(f"plain loop (PAPER.md Appendix A): {plain:8.2f} steps/s")
    print(f"landscape loop:                   {ours:8.2f} steps/s")
    print(f"ratio landscape / plain:          {ours / plain:8.3f}")


if __name__ == "__main__":
    main()
