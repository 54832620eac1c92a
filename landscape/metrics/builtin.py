"""The paper's metrics (PAPER.md 7) as registry entries: FID, IS, KID and MS-SSIM, on the
protocol's Inception (or its offline stand-in); and FD_DINOv2 (Stein et al. 2023), off by
default. The arithmetic is in ``landscape.evaluation`` (torch-fidelity's); it is imported
inside each function, so that registering them needs no torch."""

from __future__ import annotations

from typing import Any

from landscape.metrics.registry import metric

DINOV2 = "dinov2-vitl14"  # the network (landscape/evaluation/dinov2.py): dgm-eval's FD_DINOv2


@metric(
    "fid",
    columns=("fid",),
    direction="lower",
    needs=("fid_features", "real_stats"),
    labels={"fid": "FID"},
)
def fid(inputs: Any) -> dict:
    """Fréchet distance between the fakes' and the reference's feature statistics."""
    from landscape.evaluation import scores

    fake = scores.statistics(inputs.fid_features)
    return {"fid": scores.fid(fake, inputs.real_stats)}


@metric(
    "is",
    columns=("is_mean",),
    spread=("is_std",),
    direction="higher",
    needs=("fake_logits",),
    labels={"is_mean": "IS", "is_std": "IS std"},
)
def inception_score(inputs: Any) -> dict:
    """Inception Score over ``is_splits`` splits of the fakes (one in the paper: std 0)."""
    from landscape.evaluation import scores

    mean, std = scores.inception_score(inputs.fake_logits, splits=inputs.protocol.is_splits)
    return {"is_mean": mean, "is_std": std}


@metric(
    "kid",
    columns=("kid_mean",),
    spread=("kid_std",),
    direction="lower",
    needs=("fake_features", "real_features"),
    labels={"kid_mean": "KID", "kid_std": "KID std"},
)
def kid(inputs: Any) -> dict:
    """Kernel Inception Distance over the protocol's random subsets."""
    from landscape.evaluation import scores

    p = inputs.protocol
    mean, std = scores.kid(
        inputs.fake_features,
        inputs.real_features,
        subsets=p.kid_subsets,
        subset_size=p.kid_subset_size,
        seed=p.kid_seed,
    )
    return {"kid_mean": mean, "kid_std": std}


@metric(
    "ms_ssim",
    columns=("ms_ssim",),
    direction="lower",  # lower = more diverse fakes
    needs=("fake_images",),
    applies=lambda protocol: protocol.ms_ssim,
    labels={"ms_ssim": "MS-SSIM"},
)
def ms_ssim(inputs: Any) -> dict:
    """compare_gan's MS-SSIM diversity over 5 batches of 64 fakes (CelebA(-HQ) only)."""
    from landscape.evaluation import ms_ssim as msssim

    return {"ms_ssim": msssim.score(inputs.fake_images)}


@metric(
    "fd_dinov2",
    columns=("fd_dinov2",),
    direction="lower",
    needs=("fid_features", "real_stats"),
    labels={"fd_dinov2": "FD_DINOv2"},
    network=DINOV2,
    # ViT-L/14 at 224 px costs about 14x Inception-v3 at 299 px a fake: listed, not default
    default=False,
)
def fd_dinov2(inputs: Any) -> dict:
    """Fréchet distance of DINOv2 ViT-L/14 CLS features (dgm-eval's FD_DINOv2), in float64."""
    from landscape.evaluation import scores

    fake = scores.statistics(inputs.fid_features)
    return {"fd_dinov2": scores.fid(fake, inputs.real_stats)}
