"""One optimisation step of every loss x penalty x normalization, and of every architecture,
on tiny models: the quickest proof that the whole variant catalogue trains on this machine."""

from __future__ import annotations

import argparse
import itertools
import time

import torch

from landscape.variants import ARCHITECTURES, LOSSES, NORMALIZATIONS, PENALTIES

HELP = "one training step of every variant on a tiny model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--width", type=float, default=1 / 32, help="channel multiplier")
    parser.add_argument("--batch", type=int, default=8)


def one_step(arch: str, loss: str, penalty: str, norm: str, width: float, batch: int) -> float:
    """One D and one G Adam step; returns the D loss (raises if anything is not finite)."""
    resolution = ARCHITECTURES[arch].resolutions[0]
    G, D = ARCHITECTURES[arch](resolution=resolution, channels=3, norm=norm, width=width)
    opt_g, opt_d = (torch.optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999)) for m in (G, D))
    real = torch.rand(batch, 3, resolution, resolution)
    fake = G(G.sample_z(batch))
    pair = LOSSES[loss](D(real), D(fake.detach()))
    loss_d = pair.d + PENALTIES[penalty](D, real, fake.detach())
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    loss_g = LOSSES[loss](D(real), D(fake)).g
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    if not (torch.isfinite(loss_d) and torch.isfinite(loss_g)):
        raise RuntimeError(f"{arch}/{loss}/{penalty}/{norm}: non-finite loss")
    return float(loss_d)


def run(args: argparse.Namespace) -> int:
    torch.manual_seed(0)
    start = time.monotonic()
    combos = list(itertools.product(LOSSES, PENALTIES, NORMALIZATIONS))
    print(
        f"One training step of each of {len(combos)} loss x penalty x normalization "
        f"combinations (sndcgan, width {args.width:g}) and of each architecture."
    )
    print("This is a stand-in for the quickstart study, which arrives with the studies issue.")
    for loss, penalty, norm in combos:
        value = one_step("sndcgan", loss, penalty, norm, args.width, args.batch)
        print(f"  sndcgan  {loss:7s} {penalty:7s} {norm:5s} D loss {value:9.4f}")
    for arch in ARCHITECTURES:
        value = one_step(arch, "ns", "gp", "sn", args.width, args.batch)
        print(f"  {arch:12s} ns gp sn  D loss {value:9.4f}")
    print(
        f"All {len(combos) + len(ARCHITECTURES)} steps finite in {time.monotonic() - start:.1f}s."
    )
    return 0
