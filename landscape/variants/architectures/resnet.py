"""ResNet-CIFAR (32x32) and ResNet19 (128x128) as compare_gan builds them (PAPER.md 4.4-4.6).

The paper's "simplified" ResNet: every shortcut is a learned 3x3 conv, upsampling is
zero-insertion unpooling, downsampling is conv then 2x2 average pooling, D ends with a mean
(not sum) pool, and D's first block normalizes and activates the raw image.
"""

from __future__ import annotations

from torch import Tensor, nn

from landscape.variants.architectures.base import (
    GanPair,
    Generator,
    architecture,
    scaled,
)
from landscape.variants.architectures.layers import Conv2dSame, linear, unpool
from landscape.variants.batchnorm import BatchNorm2d
from landscape.variants.normalizations import NORMALIZATIONS, Normalization


def _conv3(cin: int, cout: int) -> nn.Conv2d:
    return Conv2dSame(cin, cout, 3, 1)


class GeneratorBlock(nn.Module):
    """main: BN, ReLU, unpool, conv(in->out), BN, ReLU, conv(out->out); shortcut: unpool, conv."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.bn1, self.conv1 = BatchNorm2d(cin), _conv3(cin, cout)
        self.bn2, self.conv2 = BatchNorm2d(cout), _conv3(cout, cout)
        self.shortcut = _conv3(cin, cout)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(unpool(self.bn1(x).relu()))
        h = self.conv2(self.bn2(h).relu())
        return h + self.shortcut(unpool(x))


class DiscriminatorBlock(nn.Module):
    """main: [N], ReLU, conv(in->out), [N], ReLU, conv(out->out) [, pool];
    shortcut: conv(in->out) [, pool]. SN (when chosen) applies to all three convs."""

    def __init__(self, cin: int, cout: int, norm: Normalization, down: bool) -> None:
        super().__init__()
        self.norm1, self.conv1 = norm.feature(cin), norm.weight(_conv3(cin, cout))
        self.norm2, self.conv2 = norm.feature(cout), norm.weight(_conv3(cout, cout))
        self.shortcut = norm.weight(_conv3(cin, cout))
        self.pool = nn.AvgPool2d(2) if down else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(self.norm1(x).relu())
        h = self.pool(self.conv2(self.norm2(h).relu()))
        return h + self.pool(self.shortcut(x))


class ResNetGenerator(Generator):
    """linear z -> 4x4xC0; up-blocks; BN, ReLU, conv 3x3 to the image; sigmoid."""

    def __init__(self, blocks: list[tuple[int, int]], channels: int, z_dim: int) -> None:
        super().__init__(z_dim)
        self.c0 = blocks[0][0]
        self.fc = linear(z_dim, 4 * 4 * self.c0)
        self.blocks = nn.Sequential(*(GeneratorBlock(cin, cout) for cin, cout in blocks))
        self.bn = BatchNorm2d(blocks[-1][1])
        self.conv = _conv3(blocks[-1][1], channels)

    def forward(self, z: Tensor) -> Tensor:
        h = self.blocks(self.fc(z).view(-1, self.c0, 4, 4))
        return self.conv(self.bn(h).relu()).sigmoid()


class ResNetDiscriminator(nn.Module):
    """Blocks (in, out, down); ReLU; mean over space; linear -> 1. Takes [0, 1] images."""

    def __init__(self, blocks: list[tuple[int, int, bool]], norm_name: str) -> None:
        super().__init__()
        norm = NORMALIZATIONS[norm_name]()
        self.blocks = nn.Sequential(*(DiscriminatorBlock(i, o, norm, d) for i, o, d in blocks))
        self.fc = norm.weight(linear(blocks[-1][1], 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.blocks(x).relu().mean(dim=(2, 3))).squeeze(1)


@architecture("resnet_cifar", 32)
def resnet_cifar(resolution: int, channels: int, norm: str, z_dim: int, width: float) -> GanPair:
    """ResNet-CIFAR (PAPER.md 4.5): G 3 up-blocks of 256; D 2 down-blocks and 2 plain blocks
    of 128 (13 weight layers)."""
    g, d = scaled(256, width), scaled(128, width)
    G = ResNetGenerator([(g, g)] * 3, channels, z_dim)
    D = ResNetDiscriminator([(channels, d, True), (d, d, True), (d, d, False), (d, d, False)], norm)
    return GanPair(G, D)


@architecture("resnet19", 128)
def resnet19(resolution: int, channels: int, norm: str, z_dim: int, width: float) -> GanPair:
    """ResNet19 (compare_gan ``resnet5``, PAPER.md 4.6): G 5 up-blocks 512..64, D 6 down-blocks
    64..512 (19 weight layers)."""
    c = [scaled(n, width) for n in (512, 512, 256, 256, 128, 64)]
    G = ResNetGenerator(list(zip(c, c[1:], strict=False)), channels, z_dim)
    dc = [channels] + [scaled(n, width) for n in (64, 128, 256, 256, 512, 512)]
    D = ResNetDiscriminator([(i, o, True) for i, o in zip(dc, dc[1:], strict=False)], norm)
    return GanPair(G, D)
