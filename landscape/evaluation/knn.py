"""k-nearest-neighbour arithmetic of density and coverage (Naeem et al. 2020), in blocks.

The reference's k-NN radii need its N x N distances; the fakes need the N_ref x N_fake ones.
Both are computed in blocks of ``BLOCK`` reference rows (a 2,048 x 10,000 float64 block is
160 MB), in float64 so that no distance near a radius flips with the block size or the device.
Strict ``<`` as in the authors' ``prdc`` package (torch-fidelity's precision/recall uses
``<=``; with continuous features ties do not happen).
"""

from __future__ import annotations

import torch
from torch import Tensor

BLOCK = 2048


def _distances(a: Tensor, b: Tensor) -> Tensor:
    """Euclidean distances by matrix products (||a||^2 + ||b||^2 - 2ab), whose cancellation
    error in float64 is some 1e-16 of the squared norms: far below any gap between radii."""
    return torch.cdist(a, b)


def knn_radii(features: Tensor, k: int, *, block: int = BLOCK) -> Tensor:
    """Distance from each point to its k-th nearest neighbour other than itself."""
    if len(features) <= k:
        raise ValueError(f"need more than k = {k} points for k-NN radii, got {len(features)}")
    return torch.cat(
        [_distances(rows, features).kthvalue(k + 1, dim=1).values for rows in features.split(block)]
    )


@torch.no_grad()
def density_coverage(
    fake: Tensor,
    real: Tensor,
    *,
    k: int = 5,
    device: str | torch.device = "cpu",
    block: int = BLOCK,
) -> tuple[float, float]:
    """(density, coverage) of ``fake`` (N_f x D) against ``real`` (N_r x D), float64."""
    fake = fake.to(device=device, dtype=torch.float64)
    real = real.to(device=device, dtype=torch.float64)
    radii = knn_radii(real, k, block=block)
    inside = torch.zeros(len(fake), dtype=torch.float64, device=fake.device)
    covered = 0
    for rows, r in zip(real.split(block), radii.split(block), strict=True):
        d = _distances(rows, fake)  # (block, N_f)
        within = d < r[:, None]
        inside += within.sum(dim=0)
        covered += int((d.min(dim=1).values < r).sum())
    return float(inside.mean() / k), covered / len(real)
