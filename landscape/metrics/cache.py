"""Where landscape caches extractor weights, reference statistics and floors (torch-free)."""

from __future__ import annotations

import os
from pathlib import Path

STATS_DIR = "stats"  # <cache>/stats/: reference statistics and real-data floors, side by side
EXTRACTORS_DIR = "extractors"  # <cache>/extractors/: weights of our trained feature extractors


def default_cache_dir() -> Path:
    """``$LANDSCAPE_CACHE``, or ``~/.cache/landscape`` when it is unset."""
    env = os.environ.get("LANDSCAPE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "landscape"


def resolve_cache_dir(cache_dir: str | Path | None) -> Path:
    """``cache_dir`` as a Path, or the default one when it is None."""
    return Path(cache_dir) if cache_dir is not None else default_cache_dir()
