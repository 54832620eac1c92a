"""The ``ARCHITECTURES`` registry: name -> builder of a (generator, discriminator) pair."""

from landscape.variants.architectures import dcgan, resnet  # noqa: F401  (they register)
from landscape.variants.architectures.base import ARCHITECTURES, GanPair, Generator

__all__ = ["ARCHITECTURES", "GanPair", "Generator"]
