"""Penalties against closed forms (PAPER.md section 2): critics with known input gradients."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from landscape import ARCHITECTURES, NORMALIZATIONS, PENALTIES
from landscape.variants.penalties import kernels

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = 1 / 32  # width multiplier of the real architectures used here
SHAPE = (3, 4, 4)  # C, H, W of the toy images
EPS = 1e-4  # compare_gan's slope epsilon, inside the square root


def batch(n: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.rand(n, *SHAPE), torch.rand(n, *SHAPE)


def expected_slope_penalty(weight: float, c: float) -> float:
    """weight * (sqrt(1e-4 + c^2) - 1)^2: every sample has slope c under a linear critic."""
    return weight * (math.sqrt(EPS + c * c) - 1) ** 2


@pytest.mark.parametrize("name", ["gp", "dragan"])
def test_unit_slope_critic_has_almost_no_penalty(name, linear_critic):
    D = linear_critic(SHAPE, 1.0)
    value = PENALTIES[name](D, *batch(), weight=10.0)
    assert value.item() == pytest.approx(expected_slope_penalty(10.0, 1.0), abs=1e-9)
    assert abs(value.item()) < 1e-4
    assert 10 * (math.sqrt(1.0001) - 1) ** 2 == pytest.approx(2.4999e-8, rel=1e-3)


@pytest.mark.parametrize("name", ["gp", "dragan"])
@pytest.mark.parametrize(("c", "weight"), [(2.0, 10.0), (0.5, 1.0), (0.0, 3.0), (3.7, 0.145)])
def test_known_slope_gives_the_closed_form(name, c, weight, linear_critic):
    D = linear_critic(SHAPE, c)
    value = PENALTIES[name](D, *batch(), weight=weight)
    assert value.shape == ()
    assert value.item() == pytest.approx(expected_slope_penalty(weight, c), rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("name", ["gp", "dragan", "r1"])
def test_default_weights(name, linear_critic):
    D = linear_critic(SHAPE, 2.0)
    default = PENALTIES[name](D, *batch()).item()
    assert default == pytest.approx(PENALTIES[name](D, *batch(), weight=10.0).item(), rel=1e-5)


@pytest.mark.parametrize("name", ["gp", "dragan"])
def test_slope_penalty_trains_the_critic(name, linear_critic):
    """Double backprop: the penalty's gradient reaches D's weights, d/dw = 2(s-1) w / s."""
    c, weight = 2.0, 10.0
    D = linear_critic(SHAPE, c)
    PENALTIES[name](D, *batch(), weight=weight).backward()
    s = math.sqrt(EPS + c * c)
    expected = weight * 2 * (s - 1) * D.w.detach() / s
    torch.testing.assert_close(D.w.grad, expected, rtol=1e-4, atol=1e-6)


def test_gp_interpolates_between_real_and_fake(linear_critic):
    D = linear_critic(SHAPE, 1.0)
    real, fake = torch.zeros(64, *SHAPE), torch.ones(64, *SHAPE)
    PENALTIES["gp"](D, real, fake)
    (x,) = D.seen
    # x = real + a (fake - real) = a: one a ~ U[0,1) per sample, shared by all its pixels.
    alpha = x.flatten(1)
    assert torch.equal(alpha, alpha[:, :1].expand_as(alpha))
    assert 0 <= alpha.min() and alpha.max() < 1
    assert alpha[:, 0].unique().numel() == 64
    assert alpha.mean().item() == pytest.approx(0.5, abs=0.1)


def test_gp_is_evaluated_at_the_interpolate_not_at_real_or_fake():
    """A quadratic critic has a point-dependent slope, so the point matters."""
    torch.manual_seed(1)
    real, fake = torch.rand(4, *SHAPE), torch.rand(4, *SHAPE)

    class Recorder(nn.Module):
        def forward(self, x):
            self.x = x.detach()
            return 0.5 * x.flatten(1).square().sum(1)  # gradient = x

    D = Recorder()
    value = PENALTIES["gp"](D, real, fake, weight=1.0)
    s = torch.sqrt(EPS + D.x.flatten(1).square().sum(1))
    assert value.item() == pytest.approx((s - 1).square().mean().item(), rel=1e-6)
    alpha = ((D.x - real) / (fake - real)).flatten(1)
    torch.testing.assert_close(alpha, alpha[:, :1].expand_as(alpha), rtol=1e-3, atol=1e-3)


def test_dragan_perturbation_is_clipped_and_within_half_a_std(linear_critic):
    D = linear_critic(SHAPE, 1.0)
    real = torch.rand(16, *SHAPE)  # values reach 0 and 1, so the clip matters
    PENALTIES["dragan"](D, real, torch.rand_like(real))
    (x,) = D.seen
    std = real.std(correction=0).item()
    assert x.min() >= 0 and x.max() <= 1
    assert (x - real).abs().max().item() <= std / 2 + 1e-6
    assert (x - real).abs().max().item() > 0.9 * std / 2  # the noise fills its range
    assert not torch.equal(x, real)


def test_dragan_noise_is_uniform_over_plus_minus_half_std(linear_critic):
    D = linear_critic(SHAPE, 1.0)
    real = 0.25 + 0.5 * torch.rand(64, *SHAPE)  # in [0.25, 0.75]: the clip never acts
    PENALTIES["dragan"](D, real, real)
    noise = (D.seen[0] - real) / real.std(correction=0)  # U[-1/2, 1/2) if std is the right one
    assert noise.min() >= -0.5 - 1e-5 and noise.max() < 0.5 + 1e-5
    assert noise.max() > 0.49 and noise.min() < -0.49
    assert noise.mean().item() == pytest.approx(0.0, abs=0.02)
    assert noise.var().item() == pytest.approx(1 / 12, rel=0.05)


def test_dragan_uses_the_population_std_of_the_whole_batch(linear_critic):
    """Two pixels 0.4 and 0.6: population std 0.1 (sample std 0.141); many draws must all
    stay within 0.05 of the data and come close to it."""
    D = linear_critic((1, 1, 2), 1.0)
    real = torch.tensor([[[[0.4, 0.6]]]])
    for _ in range(300):
        PENALTIES["dragan"](D, real, real)
    shift = torch.stack(D.seen) - real
    assert shift.abs().max().item() <= 0.05 + 1e-6
    assert shift.abs().max().item() > 0.049


def _tiny_discriminator(arch: str, norm: str) -> nn.Module:
    resolution = ARCHITECTURES[arch].resolutions[0]
    return ARCHITECTURES[arch](resolution=resolution, norm=norm, width=TINY).discriminator


def _l2_closed_form(D: nn.Module) -> tuple[float, int]:
    """(1/L) sum 1/2 ||W||^2 over D's kernels: every trainable tensor with >= 2 dims (biases
    and norm gamma/beta are vectors; SN's u is a buffer, and its raw kernel is a parameter)."""
    weights = [p.detach().double() for p in D.parameters() if p.dim() >= 2]
    return sum(0.5 * w.square().sum().item() for w in weights) / len(weights), len(weights)


LAYERS = {"sndcgan": 8, "resnet_cifar": 13, "resnet19": 19, "dcgan": 5}


@pytest.mark.parametrize("norm", sorted(NORMALIZATIONS))
@pytest.mark.parametrize(("arch", "n_layers"), sorted(LAYERS.items()))
def test_l2_is_the_mean_over_kernels_of_half_squared_norm(arch, n_layers, norm):
    D = _tiny_discriminator(arch, norm)
    assert len(kernels(D)) == n_layers
    want, count = _l2_closed_form(D)
    assert count == n_layers
    got = PENALTIES["l2"](D, None, None, weight=2.5).item()
    assert got == pytest.approx(2.5 * want, rel=1e-5)
    assert PENALTIES["l2"](D, None, None).item() == pytest.approx(want, rel=1e-5)  # weight 1


@pytest.mark.parametrize("norm", ["bn", "ln"])
def test_l2_ignores_biases_and_normalization_parameters(norm):
    D = _tiny_discriminator("resnet_cifar", norm)
    before = PENALTIES["l2"](D, None, None).item()
    with torch.no_grad():
        for m in D.modules():
            if isinstance(m, nn.Conv2d | nn.Linear | nn.BatchNorm2d | nn.GroupNorm):
                m.bias.fill_(5.0)
            if isinstance(m, nn.BatchNorm2d | nn.GroupNorm):
                m.weight.fill_(7.0)
    assert PENALTIES["l2"](D, None, None).item() == before


def test_l2_with_spectral_norm_uses_the_raw_kernels():
    D = _tiny_discriminator("sndcgan", "sn")
    sn_layers = [m for m in D.modules() if parametrize.is_parametrized(m, "weight")]
    raw = [m.parametrizations.weight.original for m in sn_layers]
    assert len(raw) == 8
    assert all(k is r for k, r in zip(kernels(D), raw, strict=True))
    want = sum(0.5 * r.detach().double().square().sum().item() for r in raw) / 8
    got = PENALTIES["l2"](D, None, None)
    assert got.item() == pytest.approx(want, rel=1e-5)
    # The normalized kernels would give a very different value (N(0, 0.02) raw kernels are small).
    normalized = sum(0.5 * m.weight.detach().square().sum().item() for m in sn_layers) / 8
    assert abs(normalized - want) > 10 * want
    got.backward()
    for r in raw:  # d/dW of (1/L) 1/2 ||W||^2 = W / L
        torch.testing.assert_close(r.grad, r.detach() / 8)


def test_l2_on_a_hand_built_critic():
    D = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 1))
    with torch.no_grad():
        D[0].weight.fill_(1.0)  # 18 entries: 1/2 * 18 = 9
        D[3].weight.fill_(0.5)  # 8 entries of 0.25: 1/2 * 2 = 1
    assert PENALTIES["l2"](D, None, None, weight=3.0).item() == pytest.approx(3.0 * (9 + 1) / 2)


@pytest.mark.parametrize("gamma", [10.0, 0.5])
def test_r1_matches_the_closed_form_for_a_quadratic_critic(gamma, quadratic_critic):
    n = math.prod(SHAPE)
    D = quadratic_critic(n)
    real, fake = batch(5)
    grad = real.flatten(1) @ D.a.detach()  # A x (A symmetric)
    want = gamma / 2 * grad.double().square().sum(1).mean().item()
    value = PENALTIES["r1"](D, real, fake, weight=gamma)
    assert value.item() == pytest.approx(want, rel=1e-5)
    # R1 looks at real data only: the fakes do not matter.
    assert PENALTIES["r1"](D, real, torch.rand_like(fake), weight=gamma).item() == value.item()
    value.backward()
    assert D.a.grad is not None and D.a.grad.abs().sum() > 0


def test_r1_on_a_linear_critic_is_gamma_half_c_squared(linear_critic):
    D = linear_critic(SHAPE, 3.0)
    assert PENALTIES["r1"](D, *batch(), weight=4.0).item() == pytest.approx(2.0 * 9.0, rel=1e-5)


def test_none_is_zero(linear_critic):
    D = linear_critic(SHAPE, 5.0)
    for weight in (0.0, 10.0):
        value = PENALTIES["none"](D, *batch(), weight=weight)
        assert value.shape == () and value.item() == 0.0
    assert D.seen == []  # it does not even call D


@pytest.mark.parametrize("name", sorted(PENALTIES))
def test_every_penalty_scales_linearly_with_its_weight(name):
    D = nn.Sequential(
        nn.Flatten(), nn.Linear(math.prod(SHAPE), 8), nn.Tanh(), nn.Linear(8, 1), nn.Flatten(0)
    )
    real, fake = batch(4)
    torch.manual_seed(5)
    one = PENALTIES[name](D, real, fake, weight=1.0)
    torch.manual_seed(5)
    three = PENALTIES[name](D, real, fake, weight=3.0)
    assert one.shape == () and torch.isfinite(one)
    assert three.item() == pytest.approx(3 * one.item(), rel=1e-5, abs=1e-12)
