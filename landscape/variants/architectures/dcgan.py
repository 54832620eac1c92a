"""DCGAN (Radford et al. 2016) and SNDCGAN (Miyato et al. 2018) as compare_gan builds them.

PAPER.md 4.2 (SNDCGAN) and 4.3 (DCGAN). Layer widths are multiplied by ``width``.
"""

from __future__ import annotations

from torch import Tensor, nn

from landscape.variants.architectures.base import (
    GanPair,
    Generator,
    architecture,
    scaled,
)
from landscape.variants.architectures.layers import Conv2dSame, ConvTranspose2dSame, linear
from landscape.variants.batchnorm import BatchNorm1d, BatchNorm2d
from landscape.variants.normalizations import NORMALIZATIONS


class SNDCGANGenerator(Generator):
    """linear z -> (H/8)(W/8)*512, per-unit BN, ReLU; 3 deconvs 4/2 + BN + ReLU; deconv 3/1;
    tanh, then (y + 1) / 2. Batch norm eps 2e-5 throughout."""

    def __init__(self, resolution: int, channels: int, z_dim: int, width: float) -> None:
        super().__init__(z_dim)
        self.base = resolution // 8
        c512, c256, c128, c64 = (scaled(c, width) for c in (512, 256, 128, 64))
        self.c0 = c512
        self.fc = linear(z_dim, self.base * self.base * c512)
        self.fc_bn = BatchNorm1d(self.base * self.base * c512, eps=2e-5, momentum=0.1)
        layers: list[nn.Module] = []
        for cin, cout in ((c512, c256), (c256, c128), (c128, c64)):
            layers += [
                ConvTranspose2dSame(cin, cout, 4, 2),
                BatchNorm2d(cout, eps=2e-5),
                nn.ReLU(),
            ]
        layers += [ConvTranspose2dSame(c64, channels, 3, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        h = self.fc_bn(self.fc(z)).relu().view(-1, self.c0, self.base, self.base)
        return (self.body(h) + 1) / 2


class SNDCGANDiscriminator(nn.Module):
    """Input 2x - 1; 7 convs (3/1, 4/2 alternating, 64..512 ch) with LReLU 0.1; linear -> 1.

    Convs are initialised N(0, 0.02) (not truncated). compare_gan allows only none and SN here;
    BN and LN (our addition, PAPER.md Appendix B) sit before the activation of convs 2-7.
    """

    def __init__(self, resolution: int, channels: int, norm_name: str, width: float) -> None:
        super().__init__()
        norm = NORMALIZATIONS[norm_name]()
        c64, c128, c256, c512 = (scaled(c, width) for c in (64, 128, 256, 512))
        table = [
            (channels, c64, 3, 1),
            (c64, c128, 4, 2),
            (c128, c128, 3, 1),
            (c128, c256, 4, 2),
            (c256, c256, 3, 1),
            (c256, c512, 4, 2),
            (c512, c512, 3, 1),
        ]
        layers: list[nn.Module] = []
        for i, (cin, cout, k, s) in enumerate(table):
            layers.append(norm.weight(Conv2dSame(cin, cout, k, s, truncated=False)))
            if i > 0:
                layers.append(norm.feature(cout))
            layers.append(nn.LeakyReLU(0.1))
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.fc = norm.weight(linear((resolution // 8) ** 2 * c512, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.body(2 * x - 1)).squeeze(1)


class DCGANGenerator(Generator):
    """linear z -> (H/16)(W/16)*512, reshape, BN, ReLU; 3 deconvs 5/2 + BN + ReLU;
    deconv 5/2 to the image; 0.5 tanh + 0.5."""

    def __init__(self, resolution: int, channels: int, z_dim: int, width: float) -> None:
        super().__init__(z_dim)
        self.base = resolution // 16
        c512, c256, c128, c64 = (scaled(c, width) for c in (512, 256, 128, 64))
        self.c0 = c512
        self.fc = linear(z_dim, self.base * self.base * c512)
        layers: list[nn.Module] = [BatchNorm2d(c512), nn.ReLU()]
        for cin, cout in ((c512, c256), (c256, c128), (c128, c64)):
            layers += [ConvTranspose2dSame(cin, cout, 5, 2), BatchNorm2d(cout), nn.ReLU()]
        layers += [ConvTranspose2dSame(c64, channels, 5, 2), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return 0.5 * self.body(self.fc(z).view(-1, self.c0, self.base, self.base)) + 0.5


class DCGANDiscriminator(nn.Module):
    """4 convs 5/2 (64, 128, 256, 512 ch), LReLU 0.2, the normalization before the activation
    of convs 2-4; linear -> 1. Takes [0, 1] images directly."""

    def __init__(self, resolution: int, channels: int, norm_name: str, width: float) -> None:
        super().__init__()
        norm = NORMALIZATIONS[norm_name]()
        widths = [channels] + [scaled(c, width) for c in (64, 128, 256, 512)]
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate(zip(widths, widths[1:], strict=False)):
            layers.append(norm.weight(Conv2dSame(cin, cout, 5, 2)))
            if i > 0:
                layers.append(norm.feature(cout))
            layers.append(nn.LeakyReLU(0.2))
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.fc = norm.weight(linear((resolution // 16) ** 2 * widths[-1], 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.body(x)).squeeze(1)


@architecture("sndcgan", 32, 64, 128)
def sndcgan(resolution: int, channels: int, norm: str, z_dim: int, width: float) -> GanPair:
    """SNDCGAN of Miyato et al. 2018, the paper's small architecture (PAPER.md 4.2)."""
    return GanPair(
        SNDCGANGenerator(resolution, channels, z_dim, width),
        SNDCGANDiscriminator(resolution, channels, norm, width),
    )


@architecture("dcgan", 32, 64, 128)
def dcgan(resolution: int, channels: int, norm: str, z_dim: int, width: float) -> GanPair:
    """DCGAN of Radford et al. 2016 as compare_gan builds it (PAPER.md 4.3; not in the study)."""
    return GanPair(
        DCGANGenerator(resolution, channels, z_dim, width),
        DCGANDiscriminator(resolution, channels, norm, width),
    )
