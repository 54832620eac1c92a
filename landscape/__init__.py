"""landscape: a reproducible benchmark of the GAN design space (Kurach et al. 2019)."""

from landscape.plugins import load_plugin
from landscape.registry import Registry, UnknownNameError
from landscape.variants import (
    ARCHITECTURES,
    LOSSES,
    NORMALIZATIONS,
    PENALTIES,
    GanPair,
    Generator,
    LossPair,
    Normalization,
)

__version__ = "0.1.0"

__all__ = [
    "ARCHITECTURES",
    "LOSSES",
    "NORMALIZATIONS",
    "PENALTIES",
    "GanPair",
    "Generator",
    "LossPair",
    "Normalization",
    "Registry",
    "UnknownNameError",
    "load_plugin",
]
