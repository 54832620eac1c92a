"""Every variant of the study, one registry per axis."""

from landscape.variants.architectures import ARCHITECTURES, GanPair, Generator
from landscape.variants.losses import LOSSES, LossPair
from landscape.variants.normalizations import NORMALIZATIONS, Normalization
from landscape.variants.penalties import PENALTIES

__all__ = [
    "ARCHITECTURES",
    "LOSSES",
    "NORMALIZATIONS",
    "PENALTIES",
    "GanPair",
    "Generator",
    "LossPair",
    "Normalization",
]
