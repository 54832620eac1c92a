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


def _gaussian(size: int, sigma: float, dtype: torch.dtype, device) -> Tensor:
    """The normalised 1-D factor of compare_gan's 2-D window (softmax of -x^2 / 2 sigma^2)."""
    coords = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    return torch.softmax(-0.5 * coords**2 / sigma**2, dim=0)


def _blur(x: Tensor, g: Tensor) -> Tensor:
    """Depthwise 'valid' filtering of (N, C, H, W) with the separable window g x g."""
    c = x.shape[1]
    x = F.conv2d(x, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return F.conv2d(x, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)


def _downscale(x: Tensor) -> Tensor:
    """2x2 average pool; an odd side is first padded by one symmetric row/column at its end."""
    pad_h, pad_w = x.shape[-2] % 2, x.shape[-1] % 2
    if pad_h or pad_w:  # 'SYMMETRIC' padding of one: repeat the last row / column
        x = torch.cat([x, x[..., -1:, :]], dim=-2) if pad_h else x
        x = torch.cat([x, x[..., :, -1:]], dim=-1) if pad_w else x
    return F.avg_pool2d(x, 2)


def ms_ssim(a: Tensor, b: Tensor) -> Tensor:
    """MS-SSIM of image pairs ``a[i]``, ``b[i]``: (N, C, H, W) in [0, 255] -> (N,)."""
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(f"need two (N, C, H, W) batches of one shape, got {a.shape}, {b.shape}")
    x, y = a.double(), b.double()
    c1, c2 = (K1 * MAX_VAL) ** 2, (K2 * MAX_VAL) ** 2
    terms = []
    for scale in range(len(WEIGHTS)):
        if scale > 0:
            x, y = _downscale(x), _downscale(y)
        g = _gaussian(min(FILTER_SIZE, *x.shape[-2:]), FILTER_SIGMA, x.dtype, x.device)
        mu_x, mu_y = _blur(x, g), _blur(y, g)
        luminance = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
        cs = (2 * _blur(x * y, g) - 2 * mu_x * mu_y + c2) / (
            _blur(x * x + y * y, g) - (mu_x**2 + mu_y**2) + c2
        )
        last = scale == len(WEIGHTS) - 1
        terms.append(((luminance * cs) if last else cs).mean(dim=(-2, -1)).clamp_min(0))
    weights = torch.tensor(WEIGHTS, dtype=x.dtype, device=x.device)
    per_channel = torch.stack(terms, dim=-1).pow(weights).prod(dim=-1)  # (N, C)
    return per_channel.mean(dim=-1).float()


def pairwise_mean(images: Tensor) -> float:
    """Mean MS-SSIM over the ordered pairs of distinct images of one batch (compare_gan
    ``ms_ssim_score``). MS-SSIM is symmetric, so each unordered pair is computed once."""
    i, j = torch.triu_indices(len(images), len(images), offset=1, device=images.device)
    if len(i) == 0:
        raise ValueError("MS-SSIM diversity needs at least 2 images")
    scores = torch.cat([ms_ssim(images[p], images[q]) for p, q in zip(i.split(512), j.split(512),
                                                                       strict=True)])  # fmt: skip
    return scores.double().mean().item()


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
