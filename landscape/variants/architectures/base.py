"""What every architecture builds: a generator and a discriminator with the paper's conventions.

- z ~ U(-1, 1)^z_dim for training and evaluation (PAPER.md 4.1, pitfall 7).
- G outputs images in [0, 1]; D takes images in [0, 1] and returns logits of shape ``(B,)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

from landscape.registry import Registry


class Generator(nn.Module):
    """Base of every generator: knows its latent size and draws latents from U(-1, 1)."""

    def __init__(self, z_dim: int) -> None:
        super().__init__()
        self.z_dim = z_dim

    def sample_z(
        self, n: int, *, device: torch.device | str | None = None, generator=None
    ) -> Tensor:
        """``n`` latent vectors z ~ U(-1, 1)^z_dim (compare_gan ``z_generator``)."""
        device = device if device is not None else next(self.parameters()).device
        return torch.rand(n, self.z_dim, device=device, generator=generator) * 2 - 1


class GanPair(NamedTuple):
    generator: Generator
    discriminator: nn.Module


ArchitectureBuilder = Callable[..., GanPair]
ARCHITECTURES: Registry[ArchitectureBuilder] = Registry("architecture")


def architecture(
    name: str, *supported: int
) -> Callable[[ArchitectureBuilder], ArchitectureBuilder]:
    """Register ``build(resolution, channels, norm, z_dim, width) -> GanPair`` as ``name``,
    for the image sizes ``supported``. The registered builder takes keyword arguments with
    the paper's defaults, checks them first, and names the supported sizes in
    ``.resolutions``."""

    def register(build: ArchitectureBuilder) -> ArchitectureBuilder:
        @functools.wraps(build)
        def checked(
            resolution: int = supported[0],
            channels: int = 3,
            norm: str = "none",
            z_dim: int = 128,
            width: float = 1.0,
        ) -> GanPair:
            check_build_args(name, supported, resolution, channels, z_dim, width)
            return build(resolution, channels, norm, z_dim, width)

        checked.resolutions = tuple(supported)  # type: ignore[attr-defined]
        return ARCHITECTURES.register(name)(checked)

    return register


def check_build_args(
    name: str, supported: Sequence[int], resolution: int, channels: int, z_dim: int, width: float
) -> None:
    """Raise a ValueError that names the bad argument and what is valid."""
    if resolution not in supported:
        valid = ", ".join(map(str, supported))
        raise ValueError(
            f"architecture {name!r} does not support resolution {resolution}; supported: {valid}"
        )
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
    if z_dim < 1:
        raise ValueError(f"z_dim must be a positive integer, got {z_dim}")
    if not width > 0:
        raise ValueError(f"width multiplier must be > 0, got {width}")


def scaled(channels: int, width: float) -> int:
    """A layer's channel count at width multiplier ``width`` (at least 1)."""
    return max(1, round(channels * width))
