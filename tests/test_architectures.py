"""Architectures (PAPER.md section 4): shapes, ranges, latents, TF-SAME layers, and parameter
counts at width 1 computed independently from the paper's layer tables."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from landscape import ARCHITECTURES, NORMALIZATIONS, Generator, UnknownNameError
from landscape.variants.architectures.layers import Conv2dSame, ConvTranspose2dSame, unpool
from landscape.variants.batchnorm import BatchNorm1d, BatchNorm2d

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = 1 / 32
Z = 128  # z_dim of every best-model config


def conv(k: int, cin: int, cout: int) -> int:
    """A k x k conv or transposed conv with bias."""
    return k * k * cin * cout + cout


def lin(fan_in: int, fan_out: int) -> int:
    return fan_in * fan_out + fan_out


def bn(c: int) -> int:  # gamma and beta (also LN's per-channel gamma and beta)
    return 2 * c


def sndcgan_d(r: int, c: int, norm: str) -> int:
    """PAPER.md 4.2 D table; BN/LN (our addition) before the activation of convs 2-7."""
    rows = [
        (3, c, 64),
        (4, 64, 128),
        (3, 128, 128),
        (4, 128, 256),
        (3, 256, 256),
        (4, 256, 512),
        (3, 512, 512),
    ]
    total = sum(conv(*row) for row in rows) + lin((r // 8) ** 2 * 512, 1)
    if norm in ("bn", "ln"):
        total += sum(bn(cout) for _, _, cout in rows[1:])
    return total


def sndcgan_g(r: int, c: int) -> int:
    units = (r // 8) ** 2 * 512
    return (
        lin(Z, units)
        + bn(units)
        + conv(4, 512, 256)
        + bn(256)
        + conv(4, 256, 128)
        + bn(128)
        + conv(4, 128, 64)
        + bn(64)
        + conv(3, 64, c)
    )


def dcgan_d(r: int, c: int, norm: str) -> int:
    total = conv(5, c, 64) + conv(5, 64, 128) + conv(5, 128, 256) + conv(5, 256, 512)
    total += lin((r // 16) ** 2 * 512, 1)
    return total + (bn(128) + bn(256) + bn(512) if norm in ("bn", "ln") else 0)


def dcgan_g(r: int, c: int) -> int:
    return (
        lin(Z, (r // 16) ** 2 * 512)
        + bn(512)
        + conv(5, 512, 256)
        + bn(256)
        + conv(5, 256, 128)
        + bn(128)
        + conv(5, 128, 64)
        + bn(64)
        + conv(5, 64, c)
    )


def g_block(cin: int, cout: int) -> int:
    """BN, conv(in->out), BN, conv(out->out), shortcut conv(in->out); all 3x3."""
    return bn(cin) + conv(3, cin, cout) + bn(cout) + conv(3, cout, cout) + conv(3, cin, cout)


def d_block(cin: int, cout: int, norm: str) -> int:
    norms = bn(cin) + bn(cout) if norm in ("bn", "ln") else 0
    return conv(3, cin, cout) + conv(3, cout, cout) + conv(3, cin, cout) + norms


def resnet_cifar_g(c: int) -> int:
    return lin(Z, 4 * 4 * 256) + 3 * g_block(256, 256) + bn(256) + conv(3, 256, c)


def resnet_cifar_d(c: int, norm: str) -> int:
    return d_block(c, 128, norm) + 3 * d_block(128, 128, norm) + lin(128, 1)


def resnet19_g(c: int) -> int:
    blocks = [(512, 512), (512, 256), (256, 256), (256, 128), (128, 64)]
    return lin(Z, 4 * 4 * 512) + sum(g_block(*b) for b in blocks) + bn(64) + conv(3, 64, c)


def resnet19_d(c: int, norm: str) -> int:
    widths = [c, 64, 128, 256, 256, 512, 512]
    return sum(d_block(i, o, norm) for i, o in zip(widths, widths[1:], strict=False)) + lin(512, 1)


COUNTS = [  # arch, resolution, channels, norm, G params, D params
    ("sndcgan", 32, 3, "none", sndcgan_g(32, 3), sndcgan_d(32, 3, "none")),
    ("sndcgan", 32, 3, "sn", sndcgan_g(32, 3), sndcgan_d(32, 3, "sn")),
    ("sndcgan", 32, 1, "bn", sndcgan_g(32, 1), sndcgan_d(32, 1, "bn")),
    ("sndcgan", 128, 3, "none", sndcgan_g(128, 3), sndcgan_d(128, 3, "none")),
    ("dcgan", 32, 3, "none", dcgan_g(32, 3), dcgan_d(32, 3, "none")),
    ("dcgan", 32, 3, "bn", dcgan_g(32, 3), dcgan_d(32, 3, "bn")),
    ("resnet_cifar", 32, 3, "none", resnet_cifar_g(3), resnet_cifar_d(3, "none")),
    ("resnet_cifar", 32, 3, "ln", resnet_cifar_g(3), resnet_cifar_d(3, "ln")),
    ("resnet_cifar", 32, 1, "sn", resnet_cifar_g(1), resnet_cifar_d(1, "sn")),
    ("resnet19", 128, 3, "none", resnet19_g(3), resnet19_d(3, "none")),
    ("resnet19", 128, 3, "bn", resnet19_g(3), resnet19_d(3, "bn")),
]


def full_size(arch: str, resolution: int, channels: int = 3, norm: str = "none"):
    """A width-1 model on the meta device: real shapes, no memory, no initialisation cost."""
    with torch.device("meta"):
        return ARCHITECTURES[arch](resolution=resolution, channels=channels, norm=norm)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_count_formulas_spot_check():
    """Two totals worked out by hand, so a slip in the helpers above cannot go unnoticed."""
    assert sndcgan_d(32, 3, "none") == 5_860_865
    # B0: 2 x (27*128 + 128) + (1152*128 + 128); 9 more 128->128 convs; linear 128 + 1.
    assert resnet_cifar_d(3, "none") == 2 * 3_584 + 10 * 147_584 + 129 == 1_483_137


@pytest.mark.parametrize(("arch", "res", "ch", "norm", "g_count", "d_count"), COUNTS)
def test_parameter_counts_at_width_one(arch, res, ch, norm, g_count, d_count):
    G, D = full_size(arch, res, ch, norm)
    assert n_params(G) == g_count
    assert n_params(D) == d_count


@pytest.mark.parametrize(
    ("arch", "res", "fan_in"),
    [
        ("sndcgan", 32, 8192),
        ("sndcgan", 128, 131072),
        ("dcgan", 32, 2048),
        ("resnet_cifar", 32, 128),
        ("resnet19", 128, 512),
    ],
)
def test_final_linear_fan_in(arch, res, fan_in):
    D = full_size(arch, res).discriminator
    assert (D.fc.in_features, D.fc.out_features) == (fan_in, 1)


CASES = [(arch, res) for arch in sorted(ARCHITECTURES) for res in ARCHITECTURES[arch].resolutions]


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("norm", sorted(NORMALIZATIONS))
@pytest.mark.parametrize(("arch", "res"), CASES)
def test_shapes_and_ranges(arch, res, norm, channels):
    G, D = ARCHITECTURES[arch](resolution=res, channels=channels, norm=norm, width=TINY)
    assert isinstance(G, Generator) and G.z_dim == Z
    z = G.sample_z(2)
    x = G(z)
    assert x.shape == (2, channels, res, res)
    assert x.min() >= 0 and x.max() <= 1
    logits = D(x)
    assert logits.shape == (2,) and torch.isfinite(logits).all()
    assert D(torch.rand(3, channels, res, res)).shape == (3,)
    G.eval()
    D.eval()
    with torch.no_grad():
        assert G(G.sample_z(1)).shape == (1, channels, res, res)
        assert D(torch.rand(1, channels, res, res)).shape == (1,)


@pytest.mark.parametrize(("arch", "res"), CASES)
def test_generator_output_map(arch, res):
    """Zero the last layer: SNDCGAN (tanh(b)+1)/2, DCGAN 0.5 tanh(b) + 0.5, ResNet sigmoid(b)."""
    G = ARCHITECTURES[arch](resolution=res, width=TINY).generator
    last = [m for m in G.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([0.5, -1.0, 2.0]))
    y = G(G.sample_z(2))
    b = torch.tensor([0.5, -1.0, 2.0])[None, :, None, None].expand_as(y)
    expected = torch.sigmoid(b) if arch.startswith("resnet") else 0.5 * torch.tanh(b) + 0.5
    torch.testing.assert_close(y, expected)


@pytest.mark.parametrize(("arch", "res"), CASES)
def test_discriminator_input_range(arch, res):
    """With zero biases a D sees nothing in a zero input. SNDCGAN maps x to 2x - 1, so for it
    the 'zero' image is 0.5; the others take [0, 1] directly."""
    D = ARCHITECTURES[arch](resolution=res, width=TINY).discriminator
    neutral = 0.5 if arch == "sndcgan" else 0.0
    other = 0.0 if arch == "sndcgan" else 0.5
    assert torch.equal(D(torch.full((2, 3, res, res), neutral)), torch.zeros(2))
    assert D(torch.full((2, 3, res, res), other)).abs().min() > 0


@pytest.mark.parametrize("norm", sorted(NORMALIZATIONS))
@pytest.mark.parametrize(("arch", "res"), CASES)
def test_generator_always_uses_batch_norm(arch, res, norm):
    G = ARCHITECTURES[arch](resolution=res, norm=norm, width=TINY).generator
    kinds = {type(m) for m in G.modules()}
    assert BatchNorm2d in kinds  # TF's running statistics (landscape.variants.batchnorm)
    assert not kinds & {nn.GroupNorm, nn.LayerNorm, nn.Identity}
    assert not any(hasattr(m, "parametrizations") for m in G.modules())
    eps = 2e-5 if arch == "sndcgan" else 1e-5
    norms = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert all(m.eps == eps and m.momentum == 0.1 for m in norms)


def test_sndcgan_generator_first_bn_is_per_unit():
    G = full_size("sndcgan", 32).generator
    first = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)][0]
    assert type(first) is BatchNorm1d
    assert first.num_features == 4 * 4 * 512 and first.eps == 2e-5
    assert full_size("sndcgan", 128).generator.fc_bn.num_features == 16 * 16 * 512


def test_latents_are_uniform_on_minus_one_one():
    G = ARCHITECTURES["sndcgan"](width=TINY).generator
    z = G.sample_z(4000)
    assert z.shape == (4000, Z)
    assert z.min() >= -1 and z.max() <= 1
    assert z.mean().item() == pytest.approx(0.0, abs=0.01)
    assert z.var().item() == pytest.approx(1 / 3, abs=0.01)  # N(0, 1) would give 1
    assert (z.abs() > 0.9).float().mean().item() == pytest.approx(0.1, abs=0.01)  # N: 0.37
    g = torch.Generator().manual_seed(3)
    a = G.sample_z(5, generator=g)
    assert torch.equal(a, G.sample_z(5, generator=torch.Generator().manual_seed(3)))
    assert ARCHITECTURES["resnet_cifar"](z_dim=16, width=TINY).generator.sample_z(7).shape == (
        7,
        16,
    )


def test_unpool_inserts_zeros():
    x = torch.arange(1.0, 13.0).reshape(1, 2, 2, 3)
    y = unpool(x)
    assert y.shape == (1, 2, 4, 6)
    assert torch.equal(y[:, :, ::2, ::2], x)
    mask = torch.ones_like(y, dtype=torch.bool)
    mask[:, :, ::2, ::2] = False
    assert torch.equal(y[mask], torch.zeros(int(mask.sum())))
    assert torch.equal(unpool(torch.tensor([[[[7.0]]]])), torch.tensor([[[[7.0, 0], [0, 0]]]]))


def tf_same_pads(size: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow's SAME padding for conv2d: out = ceil(in / s)."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


@pytest.mark.parametrize(("k", "s"), [(5, 2), (4, 2), (3, 1), (3, 2)])
def test_conv2d_same_matches_tensorflow_padding(k, s):
    layer = Conv2dSame(2, 3, k, s)
    nn.init.normal_(layer.bias)
    x = torch.randn(2, 2, 8, 8)
    before, after = tf_same_pads(8, k, s)
    expected = F.conv2d(
        F.pad(x, (before, after, before, after)), layer.weight, layer.bias, stride=s
    )
    torch.testing.assert_close(layer(x), expected)
    assert layer(x).shape[-1] == 8 // s


def test_conv2d_k5_s2_is_asymmetric():
    layer = Conv2dSame(1, 1, 5, 2)
    x = torch.randn(1, 1, 6, 6)
    expected = F.conv2d(F.pad(x, (1, 2, 1, 2)), layer.weight, layer.bias, stride=2)
    torch.testing.assert_close(layer(x), expected)
    symmetric = F.conv2d(x, layer.weight, layer.bias, stride=2, padding=2)
    assert not torch.allclose(layer(x), symmetric)  # PyTorch's p=2 is one pixel off


@pytest.mark.parametrize(("k", "s"), [(5, 2), (4, 2), (3, 1)])
def test_conv_transpose_same_crops_like_tensorflow(k, s):
    layer = ConvTranspose2dSame(2, 3, k, s)
    nn.init.normal_(layer.bias)
    x = torch.randn(2, 2, 5, 5)
    full = F.conv_transpose2d(x, layer.weight, layer.bias, stride=s)  # (H - 1) s + k
    before = (k - s) // 2  # TF: total crop k - s, the smaller half first
    expected = full[..., before : before + 5 * s, before : before + 5 * s]
    torch.testing.assert_close(layer(x), expected)
    if (k, s) == (5, 2):
        torch.testing.assert_close(layer(x), full[..., 1:11, 1:11])


def test_initialisers():
    G, D = ARCHITECTURES["resnet_cifar"](width=1 / 4)
    convs = [m.weight for m in D.modules() if isinstance(m, nn.Conv2d)]
    w = torch.cat([c.flatten() for c in convs])
    assert w.abs().max() <= 0.04 + 1e-7  # truncated at 2 std
    assert w.std().item() == pytest.approx(0.02 * 0.8796, rel=0.05)  # std of N(0,1) cut at 2
    G2, D2 = ARCHITECTURES["sndcgan"](width=1 / 4)
    w = torch.cat([m.weight.flatten() for m in D2.modules() if isinstance(m, nn.Conv2d)])
    assert w.abs().max() > 0.05 and w.std().item() == pytest.approx(0.02, rel=0.05)  # plain N
    for model in (G, D, G2, D2):
        for m in model.modules():
            if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear | nn.BatchNorm2d):
                assert torch.count_nonzero(m.bias) == 0
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                assert torch.equal(m.weight, torch.ones_like(m.weight))
    assert G2.fc.weight.std().item() == pytest.approx(0.02, rel=0.05)


@pytest.mark.parametrize(
    ("arch", "res", "supported"),
    [
        ("resnet19", 32, "128"),
        ("resnet_cifar", 128, "32"),
        ("sndcgan", 48, "32, 64, 128"),
        ("dcgan", 16, "32, 64, 128"),
    ],
)
def test_unsupported_resolution_names_the_supported_ones(arch, res, supported):
    with pytest.raises(ValueError, match=f"supported: {supported}$"):
        ARCHITECTURES[arch](resolution=res, width=TINY)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(
        UnknownNameError, match="unknown normalization 'spectral'; choose from: bn, ln, none, sn"
    ):
        ARCHITECTURES["sndcgan"](norm="spectral", width=TINY)
    with pytest.raises(ValueError, match="channels"):
        ARCHITECTURES["dcgan"](channels=2, width=TINY)
    with pytest.raises(ValueError, match="z_dim"):
        ARCHITECTURES["dcgan"](z_dim=0, width=TINY)
    with pytest.raises(ValueError, match="width"):
        ARCHITECTURES["dcgan"](width=0)


def _layers(module: nn.Module, kind) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, kind)]


DOWN = {"resnet_cifar": [True, True, False, False], "resnet19": [True] * 6}


def reference_discriminator(arch: str, D: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """D without normalization, rebuilt from the paper's tables with D's own conv weights."""
    convs, fc = _layers(D, nn.Conv2d), D.fc
    if arch == "sndcgan":  # input 2x - 1, 7 convs with LReLU 0.1, flatten, linear
        h = 2 * x - 1
        for conv in convs:
            h = F.leaky_relu(conv(h), 0.1)
        return fc(h.flatten(1))[:, 0]
    if arch == "dcgan":  # [0, 1] input, 4 convs with LReLU 0.2, flatten, linear
        h = x
        for conv in convs:
            h = F.leaky_relu(conv(h), 0.2)
        return fc(h.flatten(1))[:, 0]
    h = x  # ResNet: blocks of (conv1, conv2, shortcut); ReLU; global mean; linear
    for i, down in enumerate(DOWN[arch]):
        conv1, conv2, shortcut = convs[3 * i : 3 * i + 3]
        main = conv2(F.relu(conv1(F.relu(h))))
        skip = shortcut(h)
        if down:
            main, skip = F.avg_pool2d(main, 2), F.avg_pool2d(skip, 2)
        h = main + skip
    return fc(F.relu(h).mean(dim=(2, 3)))[:, 0]


def reference_generator(arch: str, G: nn.Module, z: torch.Tensor, res: int) -> torch.Tensor:
    """G (train-mode BN) rebuilt from the paper's tables with G's own layers."""
    bns = _layers(G, nn.modules.batchnorm._BatchNorm)
    if arch == "sndcgan":
        deconvs = _layers(G, nn.ConvTranspose2d)
        h = F.relu(bns[0](G.fc(z))).view(len(z), -1, res // 8, res // 8)  # per-unit BN first
        for deconv, norm in zip(deconvs[:3], bns[1:], strict=True):
            h = F.relu(norm(deconv(h)))
        return (torch.tanh(deconvs[3](h)) + 1) / 2
    if arch == "dcgan":
        deconvs = _layers(G, nn.ConvTranspose2d)
        h = F.relu(bns[0](G.fc(z).view(len(z), -1, res // 16, res // 16)))
        for deconv, norm in zip(deconvs[:3], bns[1:], strict=True):
            h = F.relu(norm(deconv(h)))
        return 0.5 * torch.tanh(deconvs[3](h)) + 0.5
    h = G.fc(z).view(len(z), -1, 4, 4)
    for block in G.blocks:  # BN, ReLU, unpool, conv, BN, ReLU, conv; shortcut unpool, conv
        main = block.conv1(unpool(F.relu(block.bn1(h))))
        h = block.conv2(F.relu(block.bn2(main))) + block.shortcut(unpool(h))
    return torch.sigmoid(G.conv(F.relu(G.bn(h))))


@pytest.mark.parametrize(
    ("arch", "res"),
    [("sndcgan", 32), ("sndcgan", 64), ("dcgan", 32), ("resnet_cifar", 32), ("resnet19", 128)],
)
def test_forward_passes_follow_the_layer_tables(arch, res):
    G, D = ARCHITECTURES[arch](resolution=res, width=TINY)
    for m in D.modules():  # nonzero biases, so that a missing or extra layer shows
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.normal_(m.bias, std=0.1)
    x = torch.rand(3, 3, res, res)
    torch.testing.assert_close(D(x), reference_discriminator(arch, D, x), rtol=1e-4, atol=1e-6)
    z = G.sample_z(3)
    torch.testing.assert_close(G(z), reference_generator(arch, G, z, res), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("norm", ["bn", "ln"])
def test_resnet_d_first_block_normalizes_then_activates_the_image(norm):
    D = ARCHITECTURES["resnet_cifar"](norm=norm, width=TINY).discriminator
    seen = {}
    D.blocks[0].conv1.register_forward_hook(lambda m, args, out: seen.update(h=args[0]))
    x = torch.rand(4, 3, 32, 32)
    D(x)
    if norm == "ln":
        expected = F.relu(F.group_norm(x, 1, eps=1e-12))
    else:
        expected = F.relu(F.batch_norm(x, None, None, training=True, eps=1e-5))
    torch.testing.assert_close(seen["h"], expected, rtol=1e-4, atol=1e-5)
    assert (seen["h"] == 0).float().mean() > 0.3  # the ReLU acts: about half is cut
