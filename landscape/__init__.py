"""landscape: a reproducible benchmark of the GAN design space (Kurach et al. 2019).

The registries and variant types are loaded on first use, so that ``landscape.report`` and
``landscape.analysis`` (which never need torch) start without importing it; ``METRICS`` (and
its ``metric`` decorator) never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "ARCHITECTURES": "landscape.variants",
    "LOSSES": "landscape.variants",
    "NORMALIZATIONS": "landscape.variants",
    "PENALTIES": "landscape.variants",
    "DATASETS": "landscape.data",
    "METRICS": "landscape.metrics",
    "metric": "landscape.metrics",
    "GanPair": "landscape.variants",
    "Generator": "landscape.variants",
    "LossPair": "landscape.variants",
    "Normalization": "landscape.variants",
    "Registry": "landscape.registry",
    "SAMPLERS": "landscape.execution.samplers",
    "PRUNERS": "landscape.execution.pruners",
    "UnknownNameError": "landscape.registry",
    "load_plugin": "landscape.plugins",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'landscape' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
