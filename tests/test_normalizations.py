"""Discriminator normalizations (PAPER.md section 3): SN's power iteration against numpy,
batch norm and layer norm settings and what they normalize over."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from landscape import ARCHITECTURES, NORMALIZATIONS, Normalization
from landscape.variants.architectures.layers import Conv2dSame, linear
from landscape.variants.batchnorm import BatchNorm1d, BatchNorm2d

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = 1 / 32
SMALL = 1 / 16
ARCHS = {
    "sndcgan": (32, 8, 6),
    "dcgan": (32, 5, 3),
    "resnet_cifar": (32, 13, 8),
    "resnet19": (128, 19, 12),
}  # resolution, conv+linear layers, feature-norm layers


def build(arch: str, norm: str, width: float = TINY):
    resolution = ARCHS[arch][0]
    return ARCHITECTURES[arch](resolution=resolution, norm=norm, width=width)


def sn_layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if parametrize.is_parametrized(m, "weight")]


def sn_of(layer: nn.Module):
    return layer.parametrizations.weight[0]


def l2n(x: np.ndarray) -> np.ndarray:
    return x / np.sqrt(max((x * x).sum(), 1e-12))


def numpy_power_iteration(kernel: np.ndarray, u: np.ndarray, rounds: int):
    """compare_gan: W in R^{in x out}; v = l2n(W^T u); u = l2n(W v); sigma = u^T W v."""
    W = kernel.reshape(kernel.shape[0], -1).T  # (kh*kw*cin) x cout, as TF lays it out
    for _ in range(rounds):
        v = l2n(W.T @ u)
        u = l2n(W @ v)
    return u, v, float(u @ W @ v)


def test_registry_entries_are_normalizations():
    for name in NORMALIZATIONS:
        norm = NORMALIZATIONS[name]()
        assert isinstance(norm, Normalization)
        assert isinstance(norm.feature(4), nn.Module)
        layer = nn.Linear(3, 2)
        assert norm.weight(layer) is layer  # in place


@pytest.mark.parametrize("rounds", [1, 2, 7])
def test_sn_power_iteration_matches_numpy(rounds):
    layer = NORMALIZATIONS["sn"]().weight(Conv2dSame(3, 5, 3, 1))
    u0 = sn_of(layer).u.double().numpy().copy()
    raw = layer.parametrizations.weight.original.detach().double().numpy()
    x = torch.rand(2, 3, 6, 6)
    for _ in range(rounds):  # one power iteration per training forward pass
        out = layer(x)
    u, v, sigma = numpy_power_iteration(raw, u0, rounds)
    np.testing.assert_allclose(sn_of(layer).u.numpy(), u, rtol=1e-5, atol=1e-6)
    expected = nn.functional.conv2d(
        x.double(), torch.from_numpy(raw / sigma), layer.bias.double(), padding=1
    )
    torch.testing.assert_close(out.double(), expected, rtol=1e-5, atol=1e-6)
    assert sigma < np.linalg.svd(raw.reshape(5, -1), compute_uv=False)[0] + 1e-9


def test_sn_gradient_treats_u_and_v_as_constants():
    layer = NORMALIZATIONS["sn"]().weight(linear(6, 4))
    u0 = sn_of(layer).u.double().numpy().copy()
    raw = layer.parametrizations.weight.original
    probe = torch.randn(4, 6, dtype=torch.float64)
    (layer.weight.double() * probe).sum().backward()
    u, v, _ = numpy_power_iteration(raw.detach().double().numpy(), u0, 1)
    w = raw.detach().double().clone().requires_grad_(True)
    sigma = torch.from_numpy(u) @ w.T @ torch.from_numpy(v)  # u, v fixed: W^T is (in x out)
    (w / sigma * probe).sum().backward()
    torch.testing.assert_close(raw.grad.double(), w.grad, rtol=1e-4, atol=1e-6)


def test_sn_converges_to_unit_spectral_norm():
    D = build("sndcgan", "sn", SMALL).discriminator
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():  # the power iteration does not need a graph
        for _ in range(40):
            D(x)
    D.eval()
    layers = sn_layers(D)
    assert len(layers) == 8
    for layer in layers:
        w = layer.weight.detach()
        top = torch.linalg.svdvals(w.reshape(w.shape[0], -1))[0].item()
        assert top == pytest.approx(1.0, abs=1e-2)
        raw = layer.parametrizations.weight.original.detach()
        assert torch.linalg.svdvals(raw.reshape(raw.shape[0], -1))[0].item() < 0.5  # SN did it


def test_sn_final_linear_is_exact_after_one_forward():
    """Output size 1: sigma = ||w||_2 exactly, after a single power iteration."""
    D = build("sndcgan", "sn", SMALL).discriminator
    seen = {}
    D.fc.register_forward_hook(lambda m, args, out: seen.update(h=args[0], out=out))
    D(torch.rand(3, 3, 32, 32))
    w = D.fc.parametrizations.weight.original.detach()
    expected = seen["h"] @ (w / w.norm()).T + D.fc.bias
    torch.testing.assert_close(seen["out"], expected, rtol=1e-5, atol=1e-6)
    D.eval()
    assert D.fc.weight.norm().item() == pytest.approx(1.0, abs=1e-5)
    u = sn_of(D.fc).u
    assert abs(torch.dot(u, w[0] / w.norm()).abs().item() - 1) < 1e-5  # u = +-w / ||w||


def test_sn_vector_is_a_persistent_non_trainable_buffer():
    D = build("sndcgan", "sn").discriminator
    state = D.state_dict()
    params = {id(p) for p in D.parameters()}
    for name, layer in D.named_modules():
        if not parametrize.is_parametrized(layer, "weight"):
            continue
        kernel = layer.parametrizations.weight.original
        u = sn_of(layer).u
        assert u.shape == (kernel[0].numel(),)  # kh * kw * cin (TF's "in" side), not cout
        assert not u.requires_grad and id(u) not in params
        key = f"{name}.parametrizations.weight.0.u"
        assert torch.equal(state[key], u)
    conv1 = D.body[0]
    assert sn_of(conv1).u.shape == (3 * 3 * 3,)


def test_sn_vector_survives_a_state_dict_round_trip():
    D = build("resnet_cifar", "sn").discriminator
    D(torch.rand(2, 3, 32, 32))
    E = build("resnet_cifar", "sn").discriminator
    E.load_state_dict(D.state_dict())
    for a, b in zip(sn_layers(D), sn_layers(E), strict=True):
        assert torch.equal(sn_of(a).u, sn_of(b).u)


def test_sn_vector_moves_in_training_and_not_in_eval():
    D = build("dcgan", "sn").discriminator
    x = torch.rand(2, 3, 32, 32)
    start = [sn_of(m).u.clone() for m in sn_layers(D)]
    D.eval()
    first = D(x)
    for _ in range(3):
        again = D(x)
    assert all(torch.equal(a, sn_of(m).u) for a, m in zip(start, sn_layers(D), strict=True))
    assert torch.equal(first, again)
    D.train()
    D(x)
    convs = [(a, m) for a, m in zip(start, sn_layers(D), strict=True) if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4
    assert all(not torch.equal(a, sn_of(m).u) for a, m in convs)


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_sn_covers_every_d_conv_and_the_final_linear_and_never_g(arch):
    G, D = build(arch, "sn")
    layers = [m for m in D.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert len(layers) == ARCHS[arch][1]
    assert all(parametrize.is_parametrized(m, "weight") for m in layers)
    assert sn_layers(G) == []
    assert sn_layers(build(arch, "none").discriminator) == []


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_bn_in_d_has_the_paper_settings(arch):
    D = build(arch, "bn").discriminator
    norms = [m for m in D.modules() if isinstance(m, nn.modules.batchnorm._NormBase)]
    assert len(norms) == ARCHS[arch][2]
    for m in norms:
        assert type(m) is BatchNorm2d
        assert m.eps == 1e-5 and m.momentum == 0.1 and m.affine and m.track_running_stats


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_ln_in_d_is_groupnorm_with_one_group(arch):
    D = build(arch, "ln").discriminator
    norms = [m for m in D.modules() if isinstance(m, nn.GroupNorm | nn.LayerNorm)]
    assert len(norms) == ARCHS[arch][2]
    for m in norms:
        assert type(m) is nn.GroupNorm
        assert m.num_groups == 1 and m.eps == 1e-12 and m.affine
    assert not any(isinstance(m, nn.modules.batchnorm._NormBase) for m in D.modules())


def test_resnet_d_normalizes_the_raw_image_in_its_first_block():
    for norm, kind in (("bn", nn.BatchNorm2d), ("ln", nn.GroupNorm)):
        D = build("resnet_cifar", norm).discriminator
        first = D.blocks[0].norm1
        assert isinstance(first, kind) and first.weight.shape == (3,)


def test_ln_normalizes_each_sample_over_channels_and_space():
    layer = NORMALIZATIONS["ln"]().feature(6)
    assert layer.weight.shape == (6,) and layer.bias.shape == (6,)
    x = (
        torch.randn(4, 6, 5, 5) * torch.arange(1.0, 7.0)[:, None, None]
        + torch.arange(6.0)[:, None, None]
    )
    y = layer(x).double()
    flat = y.flatten(1)
    torch.testing.assert_close(flat.mean(1), torch.zeros(4, dtype=torch.float64), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        flat.var(1, correction=0), torch.ones(4, dtype=torch.float64), atol=1e-4, rtol=0
    )
    assert y.mean(dim=(0, 2, 3)).abs().max() > 0.5  # not per channel, unlike batch norm
    ref = (x - x.mean(dim=(1, 2, 3), keepdim=True)) / torch.sqrt(
        x.var(dim=(1, 2, 3), correction=0, keepdim=True) + 1e-12
    )
    torch.testing.assert_close(layer(x), ref, rtol=1e-4, atol=1e-5)


def test_bn_normalizes_each_channel_over_batch_and_space():
    layer = NORMALIZATIONS["bn"]().feature(3)
    x = torch.randn(8, 3, 4, 4) * 3 + 2
    y = layer(x).double()
    torch.testing.assert_close(
        y.mean(dim=(0, 2, 3)), torch.zeros(3, dtype=torch.float64), atol=1e-5, rtol=0
    )
    torch.testing.assert_close(
        y.var(dim=(0, 2, 3), correction=0), torch.ones(3, dtype=torch.float64), atol=1e-3, rtol=0
    )
    torch.testing.assert_close(layer.running_mean, 0.1 * x.mean(dim=(0, 2, 3)))


def test_none_adds_nothing():
    D = build("resnet_cifar", "none").discriminator
    assert not any(isinstance(m, nn.BatchNorm2d | nn.GroupNorm) for m in D.modules())
    assert isinstance(NORMALIZATIONS["none"]().feature(8), nn.Identity)


def test_bn_running_variance_is_the_biased_one_as_in_tensorflow():
    """x = 1, 2, 3, 4: mean 2.5, biased variance 1.25 (unbiased 5/3). From the initial
    (0, 1) with momentum 0.1: running mean 0.25, running var 0.9 + 0.125 = 1.025, where
    PyTorch's own BN keeps 0.9 + 0.1 * 5/3 = 1.0667."""
    layer = BatchNorm1d(1, eps=2e-5, momentum=0.1)
    x = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    y = layer(x)
    assert layer.running_mean.item() == pytest.approx(0.25, abs=1e-7)
    assert layer.running_var.item() == pytest.approx(1.025, abs=1e-7)
    torch_bn = nn.BatchNorm1d(1, eps=2e-5, momentum=0.1)
    torch.testing.assert_close(y, torch_bn(x))  # the train-mode output is unchanged
    assert torch_bn.running_var.item() == pytest.approx(0.9 + 0.1 * 5 / 3, abs=1e-6)
    layer(x)  # a second step: 0.9 * 1.025 + 0.1 * 1.25 = 1.0475
    assert layer.running_var.item() == pytest.approx(1.0475, abs=1e-6)
    assert int(layer.num_batches_tracked) == 2
    layer.eval()  # eval uses the stored (biased) statistics
    expected = (x - 0.475) / np.sqrt(1.0475 + 2e-5)
    torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-6)
    before = layer.running_var.clone()
    layer(x)
    assert torch.equal(layer.running_var, before)  # eval never updates


def test_bn2d_running_variance_is_biased_over_batch_and_space():
    layer = BatchNorm2d(3, eps=1e-5, momentum=0.1)
    x = torch.randn(4, 3, 5, 5, dtype=torch.float64).float() * 2 + 1
    layer(x)
    flat = x.double().permute(1, 0, 2, 3).reshape(3, -1).numpy()
    n = flat.shape[1]  # 100 values per channel
    biased = flat.var(axis=1)
    np.testing.assert_allclose(layer.running_var.numpy(), 0.9 + 0.1 * biased, rtol=1e-6)
    np.testing.assert_allclose(layer.running_mean.numpy(), 0.1 * flat.mean(axis=1), rtol=1e-5)
    unbiased_running = 0.9 + 0.1 * biased * n / (n - 1)
    assert np.abs(layer.running_var.numpy() - unbiased_running).min() > 1e-4


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_every_bn_of_g_and_d_keeps_the_biased_running_variance(arch):
    """One train-mode forward of G (batch 64) and of the BN discriminator: each BN's running
    variance is 0.9 + 0.1 * (biased variance of what it saw)."""
    G, D = build(arch, "bn")
    seen = {}
    kinds = nn.BatchNorm1d | nn.BatchNorm2d
    norms = [m for m in (*G.modules(), *D.modules()) if isinstance(m, kinds)]
    assert norms and all(type(m) in (BatchNorm1d, BatchNorm2d) for m in norms)
    for m in norms:
        m.register_forward_pre_hook(lambda mod, args: seen.setdefault(mod, args[0].detach()))
    D(G(G.sample_z(64)).detach())
    for m in norms:
        x = seen[m].double()
        dims = [0, *range(2, x.dim())]
        biased = x.var(dim=dims, correction=0)
        torch.testing.assert_close(m.running_var.double(), 0.9 + 0.1 * biased, rtol=1e-5, atol=1e-7)
