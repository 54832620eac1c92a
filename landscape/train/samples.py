"""Sample grids: 64 samples from a fixed z, written as a PNG at every evaluation."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from landscape.variants import Generator

GRID_SEED = 42  # the paper's evaluation z seed (PAPER.md 6)


@torch.no_grad()
def sample_grid(G: Generator, n: int = 64) -> torch.Tensor:
    device = next(G.parameters()).device
    z = G.sample_z(n, device="cpu", generator=torch.Generator().manual_seed(GRID_SEED))
    was_training = G.training
    G.eval()  # moving averages of batch norm, as at evaluation
    try:
        images = G(z.to(device)).float().clamp(0, 1).cpu()
    finally:
        G.train(was_training)
    from torchvision.utils import make_grid  # on first use: torchvision takes a second to import

    return make_grid(images, nrow=8, padding=2)


def save_sample_grid(G: Generator, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    from torchvision.utils import save_image

    save_image(sample_grid(G), tmp)
    os.replace(tmp, path)
