"""MS-SSIM sample diversity, as compare_gan computes it (PAPER.md 7; CelebA(-HQ) only).

compare_gan ``image_similarity.MultiscaleSSIM`` (after Wang et al. 2003): 5 scales with power
factors (.0448, .2856, .3001, .2363, .1333); per channel a Gaussian window of size
min(11, H, W) and sigma 1.5, "valid" filtering, K1 .01, K2 .03, max value 255, no covariance
compensation; between scales a 2x2 average pool (odd sizes first padded symmetrically at the
end); contrast-structure terms and the last scale's SSIM clipped at 0 (ReLU); the weighted
geometric mean over scales, then the mean over channels. ``ms_ssim_score``: for each of 5
batches of 64 fakes, the mean over the ordered pairs of distinct images; then the mean over
batches. Lower means more diverse.

pytorch-msssim does not fit: it refuses 128x128 images at 5 scales (it needs a side > 160) and
uses a different padding and clipping, so this small file implements compare_gan's version.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
FILTER_SIZE, FILTER_SIGMA = 11, 1.5
K1, K2 = 0.01, 0.03
MAX_VAL = 255.0
BATCHES, BATCH_SIZE = 5, 64


def _window(n: int, size: int, sigma: float, dtype: torch.dtype, device) -> Tensor:
    """(n - size + 1, n) matrix M such that M @ v is the 'valid' Gaussian filtering of v: the
    normalised 1-D factor of compare_gan's 2-D window (softmax of -x^2 / 2 sigma^2)."""
    coords = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.softmax(-0.5 * coords**2 / sigma**2, dim=0)
    band = torch.zeros(n - size + 1, n, dtype=dtype, device=device)
    for i in range(n - size + 1):
        band[i, i : i + size] = g
    return band


def _downscale(x: Tensor) -> Tensor:
    """2x2 average pool; an odd side is first padded by one symmetric row/column at its end."""
    if x.shape[-2] % 2:  # 'SYMMETRIC' padding of one: repeat the last row / column
        x = torch.cat([x, x[..., -1:, :]], dim=-2)
    if x.shape[-1] % 2:
        x = torch.cat([x, x[..., :, -1:]], dim=-1)
    return F.avg_pool2d(x, 2)


class _Scale:
    """One scale of a set of images, with the per-image filtered moments precomputed (the
    filter is linear, so only the cross term E[xy] has to be computed per pair)."""

    def __init__(self, x: Tensor) -> None:
        h, w = x.shape[-2:]
        size = min(FILTER_SIZE, h, w)
        self.rows = _window(h, size, FILTER_SIGMA, x.dtype, x.device)
        self.cols = _window(w, size, FILTER_SIGMA, x.dtype, x.device).T
        self.x, self.mu, self.sq = x, self.blur(x), self.blur(x * x)
        self.mu2 = self.mu**2

    def blur(self, t: Tensor) -> Tensor:  # separable 2-D filtering as two matrix products
        return self.rows @ t @ self.cols

    def terms(self, p: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
        """Mean luminance*cs (SSIM) and mean cs over the image, per pair and channel."""
        c1, c2 = (K1 * MAX_VAL) ** 2, (K2 * MAX_VAL) ** 2
        mu_p, mu_q = self.mu[p], self.mu[q]
        cross = 2 * mu_p * mu_q
        mu2 = self.mu2[p] + self.mu2[q]
        luminance = (cross + c1) / (mu2 + c1)
        cov2 = 2 * self.blur(self.x[p] * self.x[q]) - cross
        cs = (cov2 + c2) / (self.sq[p] + self.sq[q] - mu2 + c2)
        return (luminance * cs).mean(dim=(-2, -1)), cs.mean(dim=(-2, -1))


def _scores(images: Tensor, p: Tensor, q: Tensor, chunk: int = 256) -> Tensor:
    """MS-SSIM of the pairs (images[p[k]], images[q[k]]), images (N, C, H, W) in [0, 255]."""
    if images.dim() != 4:
        raise ValueError(f"need (N, C, H, W) images, got {tuple(images.shape)}")
    x = images.double()
    scales = []
    for k in range(len(WEIGHTS)):
        x = _downscale(x) if k else x
        scales.append(_Scale(x))
    weights = torch.tensor(WEIGHTS, dtype=x.dtype, device=x.device)
    out = []
    for pc, qc in zip(p.split(chunk), q.split(chunk), strict=True):
        per_scale = [s.terms(pc, qc) for s in scales]
        # cs at the first 4 scales, SSIM at the last; each clipped at 0 (compare_gan's ReLU)
        stack = torch.stack([cs for _, cs in per_scale[:-1]] + [per_scale[-1][0]], dim=-1)
        out.append(stack.clamp_min(0).pow(weights).prod(dim=-1).mean(dim=-1))  # mean over C
    return torch.cat(out).float()


def ms_ssim(a: Tensor, b: Tensor) -> Tensor:
    """MS-SSIM of image pairs ``a[i]``, ``b[i]``: (N, C, H, W) in [0, 255] -> (N,)."""
    if a.shape != b.shape:
        raise ValueError(f"need two batches of one shape, got {tuple(a.shape)}, {tuple(b.shape)}")
    n = torch.arange(len(a), device=a.device)
    return _scores(torch.cat([a, b]), n, n + len(a))


def pairwise_mean(images: Tensor) -> float:
    """Mean MS-SSIM over the ordered pairs of distinct images of one batch (compare_gan
    ``ms_ssim_score``). MS-SSIM is symmetric, so each unordered pair is computed once."""
    if len(images) < 2:
        raise ValueError("MS-SSIM diversity needs at least 2 images")
    p, q = torch.triu_indices(len(images), len(images), offset=1, device=images.device)
    return _scores(images, p, q).double().mean().item()


def selection(n: int, *, seed: int = 0) -> Tensor:
    """Indices of the fakes (out of ``n``) that enter the score, in batch order: a seeded
    shuffle (compare_gan uses a shuffle queue), 5 batches of 64 (fewer if ``n`` < 320)."""
    n_batches = min(BATCHES, n // BATCH_SIZE)
    if n_batches == 0:
        raise ValueError(f"MS-SSIM needs at least {BATCH_SIZE} images, got {n}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[: n_batches * BATCH_SIZE]


def score(selected: Tensor) -> float:
    """The mean of :func:`pairwise_mean` over consecutive batches of 64 of ``selected``."""
    batches = selected.split(BATCH_SIZE)
    return sum(pairwise_mean(batch) for batch in batches) / len(batches)


def diversity(images: Tensor, *, seed: int = 0) -> float:
    """compare_gan's MS-SSIM score of fakes in [0, 255] (N, C, H, W); lower = more diverse."""
    return score(images[selection(len(images), seed=seed).to(images.device)])
