"""FID, KID and IS from features, computed by torch-fidelity's own metric functions.

We call torch-fidelity for the arithmetic (its FID follows TTUR, its KID follows Binkowski et
al.'s MMD-GAN code) and only choose the inputs and options the paper's protocol fixes
(PAPER.md 7): features in float64, IS over one split, KID with the cubic polynomial kernel
k(x, y) = (x.y / d + 1)^3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch_fidelity.metric_fid import (
    KEY_METRIC_FID,
    fid_features_to_statistics,
    fid_statistics_to_metric,
)
from torch_fidelity.metric_isc import (
    KEY_METRIC_ISC_MEAN,
    KEY_METRIC_ISC_STD,
    isc_features_to_metric,
)
from torch_fidelity.metric_kid import (
    KEY_METRIC_KID_MEAN,
    KEY_METRIC_KID_STD,
    kid_features_to_metric,
)

KID_SUBSETS = 100  # torch-fidelity's defaults: 100 random subsets of 1000 samples
KID_SUBSET_SIZE = 1000
KID_SEED = 2020  # torch-fidelity's default rng_seed, fixed so KID is repeatable


@dataclass(frozen=True)
class Statistics:
    """Mean and covariance (n - 1 normalisation) of a feature set, in float64 (PAPER.md 7)."""

    mu: np.ndarray
    sigma: np.ndarray

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"mu": self.mu, "sigma": self.sigma}


def statistics(features: Tensor) -> Statistics:
    """The FID statistics of ``features`` (N, D), by torch-fidelity in float64."""
    stats = fid_features_to_statistics(features.detach().cpu().double())
    return Statistics(mu=stats["mu"], sigma=stats["sigma"])


def fid(a: Statistics, b: Statistics) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)), by torch-fidelity."""
    return float(fid_statistics_to_metric(a.as_dict(), b.as_dict(), verbose=False)[KEY_METRIC_FID])


def kid(
    a: Tensor,
    b: Tensor,
    *,
    subsets: int = KID_SUBSETS,
    subset_size: int = KID_SUBSET_SIZE,
    seed: int = KID_SEED,
) -> tuple[float, float]:
    """Kernel Inception Distance (mean, std over ``subsets`` random subsets), by torch-fidelity.

    ``subset_size`` is capped at the smaller set. The cubic kernel (x.y / d + 1)^3 is the one of
    compare_gan's ``kid_score.py``; the subsets are torch-fidelity's (compare_gan used disjoint
    blocks of at most 1024), see docs/metrics.md.
    """
    size = min(subset_size, len(a), len(b))
    out = kid_features_to_metric(
        a.detach().cpu().double(),
        b.detach().cpu().double(),
        kid_subsets=subsets,
        kid_subset_size=size,
        rng_seed=seed,
        verbose=False,
    )
    return float(out[KEY_METRIC_KID_MEAN]), float(out[KEY_METRIC_KID_STD])


def inception_score(logits: Tensor, *, splits: int = 1) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) from classifier logits (mean, std over ``splits``).

    PAPER.md 7: the paper uses all samples as one split (the std is then 0).
    """
    out = isc_features_to_metric(logits.detach().cpu(), splits=splits, shuffle=splits > 1)
    return float(out[KEY_METRIC_ISC_MEAN]), float(out[KEY_METRIC_ISC_STD])


def as_tensor(array: np.ndarray) -> Tensor:
    """A numpy feature array as a CPU tensor (no copy)."""
    return torch.from_numpy(np.ascontiguousarray(array))
