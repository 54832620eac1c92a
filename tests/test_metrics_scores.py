"""FID, KID, IS and MS-SSIM against closed forms and reference values (PAPER.md 7)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from landscape.evaluation import ms_ssim, scores


def gaussian(n: int, mean: np.ndarray, cov: np.ndarray, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.multivariate_normal(mean, cov, size=n))


def closed_form_fid(a: np.ndarray, b: np.ndarray) -> float:
    """||m1 - m2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), independently with scipy's sqrtm."""
    m1, m2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * root))


def random_cov(d: int, seed: int) -> np.ndarray:
    m = np.random.default_rng(seed).normal(size=(d, d))
    return m @ m.T / d + 0.1 * np.eye(d)


def test_fid_of_a_feature_set_against_itself_is_zero():
    features = gaussian(500, np.zeros(16), random_cov(16, 0), seed=1)
    stats = scores.statistics(features)
    assert abs(scores.fid(stats, stats)) < 1e-6


def test_fid_between_two_gaussian_sets_matches_the_scipy_closed_form():
    d = 12
    a = gaussian(2000, np.zeros(d), random_cov(d, 0), seed=1)
    b = gaussian(2000, np.full(d, 0.5), random_cov(d, 1), seed=2)
    got = scores.fid(scores.statistics(a), scores.statistics(b))
    want = closed_form_fid(a.numpy(), b.numpy())
    assert got == pytest.approx(want, rel=1e-6)
    assert got > 1.0  # the sets really differ: the check is not 0 == 0


def test_fid_of_shifted_isotropic_gaussians_is_the_squared_shift():
    # Same covariance, means 3 apart along one axis: the trace term vanishes, FID = 9.
    d, n = 4, 4000
    a = gaussian(n, np.zeros(d), np.eye(d), seed=3)
    b = a + torch.tensor([3.0, 0, 0, 0], dtype=a.dtype)
    assert scores.fid(scores.statistics(a), scores.statistics(b)) == pytest.approx(9.0, rel=1e-9)


def test_statistics_are_float64_with_unbiased_covariance():
    x = torch.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 8.0]], dtype=torch.float32)
    stats = scores.statistics(x)
    assert stats.mu.dtype == np.float64 and stats.sigma.dtype == np.float64
    np.testing.assert_allclose(stats.sigma, np.cov(x.double().numpy(), rowvar=False, ddof=1))


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    d = 32
    a = gaussian(1200, np.zeros(d), np.eye(d), seed=4)
    b = gaussian(1200, np.zeros(d), np.eye(d), seed=5)
    c = gaussian(1200, np.full(d, 0.3), np.eye(d), seed=6)
    same, same_std = scores.kid(a, b, subsets=20, subset_size=500)
    other, _ = scores.kid(a, c, subsets=20, subset_size=500)
    assert abs(same) < 3 * same_std + 1e-3
    assert other > 20 * max(abs(same), 1e-3)


def test_kid_matches_the_unbiased_mmd_with_the_cubic_kernel():
    # One subset holding every sample: KID is exactly the unbiased MMD^2 estimate.
    d, n = 8, 60
    x = gaussian(n, np.zeros(d), np.eye(d), seed=7).numpy()
    y = gaussian(n, np.ones(d), np.eye(d), seed=8).numpy()

    def k(a, b):
        return (a @ b.T / d + 1) ** 3

    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    want = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (n * (n - 1))
    want -= 2 * kxy.mean()
    got, _ = scores.kid(torch.from_numpy(x), torch.from_numpy(y), subsets=1, subset_size=n)
    assert got == pytest.approx(want, rel=1e-9)


def test_inception_score_is_one_for_a_constant_classifier():
    logits = torch.zeros(100, 10)
    logits[:, 3] = 50.0
    mean, std = scores.inception_score(logits)
    assert mean == pytest.approx(1.0, abs=1e-6) and std == 0.0


@pytest.mark.parametrize("k", [2, 10, 1000])
def test_inception_score_is_k_for_confident_predictions_spread_over_k_classes(k):
    logits = torch.full((5 * k, k), -50.0)
    logits[torch.arange(5 * k), torch.arange(5 * k) % k] = 50.0
    mean, _ = scores.inception_score(logits)
    assert mean == pytest.approx(k, rel=1e-6)


def test_ms_ssim_of_identical_images_is_one():
    x = torch.rand(3, 3, 128, 128) * 255
    torch.testing.assert_close(ms_ssim.ms_ssim(x, x), torch.ones(3), rtol=0, atol=1e-6)


def test_ms_ssim_matches_compare_gans_reference_value():
    # compare_gan ms_ssim_score_test: ones, 0.7s and zeros (64x64x3, max_val 255) -> 0.989989
    images = torch.stack(
        [torch.ones(3, 64, 64), torch.full((3, 64, 64), 0.7), torch.zeros(3, 64, 64)]
    )
    assert ms_ssim.pairwise_mean(images) == pytest.approx(0.989989, abs=1e-5)


def test_ms_ssim_is_symmetric_and_low_for_independent_noise():
    a, b = torch.rand(4, 3, 64, 64) * 255, torch.rand(4, 3, 64, 64) * 255
    torch.testing.assert_close(ms_ssim.ms_ssim(a, b), ms_ssim.ms_ssim(b, a))
    assert ms_ssim.ms_ssim(a, b).max() < 0.2


def test_ms_ssim_diversity_uses_five_batches_of_64_ordered_distinct_pairs():
    # 320 copies of one image: every distinct pair is identical -> 1; noise -> far lower.
    same = (torch.rand(1, 1, 16, 16) * 255).expand(400, 1, 16, 16)
    assert len(ms_ssim.selection(400)) == 320
    assert ms_ssim.diversity(same) == pytest.approx(1.0, abs=1e-6)
    assert ms_ssim.diversity(torch.rand(130, 1, 16, 16) * 255) < 0.5
