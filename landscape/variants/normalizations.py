"""Discriminator normalizations (PAPER.md section 3).

An entry says two things an architecture needs: which layer goes where compare_gan puts batch
norm (``feature``), and what happens to each conv and linear layer (``weight``). The generator
never uses these: it always has batch norm.
"""

from __future__ import annotations

from torch import nn

from landscape.registry import Registry
from landscape.variants.batchnorm import BatchNorm2d
from landscape.variants.spectral import spectral_norm

NORMALIZATIONS: Registry = Registry("normalization")


class Normalization:
    """No normalization: identity feature layers, plain weights."""

    def feature(self, channels: int) -> nn.Module:
        """The layer placed where batch norm would sit, over ``channels`` feature maps."""
        return nn.Identity()

    def weight(self, layer: nn.Module) -> nn.Module:
        """Applied to every conv and linear layer of D (the final linear one included)."""
        return layer


@NORMALIZATIONS.register("none")
class NoNormalization(Normalization):
    """Plain discriminator."""


@NORMALIZATIONS.register("bn")
class BatchNormalization(Normalization):
    """Batch norm (Ioffe & Szegedy 2015): decay 0.9 (momentum 0.1), eps 1e-5, per channel,
    running variance biased as in TF (``landscape.variants.batchnorm``).

    Real, fake and interpolated batches go through D in separate calls, each normalized by its
    own statistics (PAPER.md pitfall 5).
    """

    def feature(self, channels: int) -> nn.Module:
        return BatchNorm2d(channels, eps=1e-5, momentum=0.1)


@NORMALIZATIONS.register("ln")
class LayerNormalization(Normalization):
    """Layer norm (Ba et al. 2016) as ``tf.contrib.layers.layer_norm``: per sample over all of
    (C, H, W), gamma and beta per channel, eps 1e-12 == ``GroupNorm(1, C, eps=1e-12)``."""

    def feature(self, channels: int) -> nn.Module:
        return nn.GroupNorm(1, channels, eps=1e-12)


@NORMALIZATIONS.register("sn")
class SpectralNormalization(Normalization):
    """Spectral norm (Miyato et al. 2018) on every conv and the final linear layer, one power
    iteration per forward pass with a persistent vector (see ``landscape.variants.spectral``)."""

    def weight(self, layer: nn.Module) -> nn.Module:
        return spectral_norm(layer)
