"""The paper's metrics (PAPER.md 7) as registry entries: FID, IS, KID and MS-SSIM. The
arithmetic is in ``landscape.evaluation`` (torch-fidelity's); it is imported inside each
function, so that registering them needs no torch."""

from __future__ import annotations

from typing import Any

from landscape.metrics.registry import metric


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
