"""Density, coverage, precision and recall against the authors' ``prdc`` package, and the
Fréchet distance against dgm-eval's arithmetic, on fixed features (no network involved)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import linalg
from torch_fidelity.metric_prc import prc_features_to_metric

from landscape.evaluation import scores
from landscape.evaluation.knn import density_coverage
from landscape.metrics.density_coverage import NEIGHBOURHOOD

prdc = pytest.importorskip("prdc", reason="the reference package: pip install prdc (dev extra)")


def features(seed: int, n_real: int = 700, n_fake: int = 600, d: int = 24):
    g = np.random.default_rng(seed)
    real = g.normal(size=(n_real, d)).astype(np.float32)
    fake = (g.normal(size=(n_fake, d)) * 1.3 + 0.4).astype(np.float32)
    fake[:10] += 8.0  # a few outlying fakes: they inflate precision/recall's fake balls
    return real, fake


def reference(real, fake, k):
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # it prints the sample counts
        return prdc.compute_prdc(real_features=real, fake_features=fake, nearest_k=k)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_density_and_coverage_agree_with_prdc_to_1e_6(seed):
    real, fake = features(seed)
    theirs = reference(real, fake, NEIGHBOURHOOD)
    for block in (64, 2048):  # the block size changes nothing
        density, coverage = density_coverage(
            torch.from_numpy(fake), torch.from_numpy(real), k=NEIGHBOURHOOD, block=block
        )
        assert abs(density - theirs["density"]) < 1e-6
        assert abs(coverage - theirs["coverage"]) < 1e-6
    assert 0 < coverage < 1 and density > 0  # neither trivial: the test can fail


@pytest.mark.parametrize("k", [3, 5])
def test_torch_fidelity_precision_and_recall_agree_with_prdc_at_the_same_k(k):
    real, fake = features(3)
    theirs = reference(real, fake, k)
    ours = prc_features_to_metric(
        torch.from_numpy(fake),
        torch.from_numpy(real),
        prc_neighborhood=k,
        prc_batch_size=10_000,
        save_cpu_ram=True,
        verbose=False,
    )
    assert abs(ours["precision"] - theirs["precision"]) < 1e-6
    assert abs(ours["recall"] - theirs["recall"]) < 1e-6


def test_density_and_coverage_in_closed_form():
    # Reals at 0, 1, ..., 9 on a line: with k = 1 every radius is 1 (the next point). Fakes at
    # 0.5 (inside the balls of 0 and 1: 2 balls) and at 100 (none): density = (2 + 0) / 2 / 1;
    # coverage: the reals whose ball (radius 1, strict) holds a fake: 0 and 1 -> 2 / 10.
    real = torch.arange(10, dtype=torch.float64)[:, None]
    fake = torch.tensor([[0.5], [100.0]], dtype=torch.float64)
    assert density_coverage(fake, real, k=1) == (1.0, 0.2)


def dgm_eval_fd(a: np.ndarray, b: np.ndarray) -> float:
    """dgm-eval's compute_FD_with_reps (metrics/fd.py): np.cov statistics and scipy's sqrtm."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1.dot(s2)).real
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_frechet_distance_agrees_with_dgm_eval_arithmetic():
    g = np.random.default_rng(0)
    a = g.normal(size=(2000, 64))
    b = g.normal(size=(1500, 64)) * 1.1 + 0.2
    stats = [scores.statistics(torch.from_numpy(x)) for x in (a, b)]
    ours = scores.fid(*stats)
    theirs = dgm_eval_fd(a, b)
    assert ours == pytest.approx(theirs, rel=1e-9)


def test_statistics_are_accumulated_in_float64():
    # Features far from the origin: b is a shifted by 0.5 in one coordinate, exactly (float32
    # near 1e4 has a step of 2^-10), so the covariances are equal and FID = 0.5^2 = 0.25.
    g = np.random.default_rng(0)
    a = (1e4 + g.normal(size=(5000, 8))).astype(np.float32)
    b = a.copy()
    b[:, 0] += 0.5
    fid = scores.fid(scores.statistics(torch.from_numpy(a)), scores.statistics(torch.from_numpy(b)))
    assert fid == pytest.approx(0.25, abs=1e-6)
    assert scores.statistics(torch.from_numpy(a)).sigma.dtype == np.float64
    # The same in float32 (one-pass sums, as a naive GPU implementation) is far off: the
    # assertion above is one float32 accumulation would fail.
    t32 = torch.from_numpy(a)
    mu = t32.sum(0) / len(t32)
    second = (t32.T @ t32) / len(t32)
    var32 = (second - torch.outer(mu, mu)).diagonal()
    assert (var32 - torch.from_numpy(a.astype(np.float64).var(0)).float()).abs().max() > 0.1
