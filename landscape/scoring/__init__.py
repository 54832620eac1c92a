"""Scores and their metadata, importable without torch.

- :func:`read_floor`: a data set's cached real-data floor (``landscape floor``).

Computing the metrics needs torch (``landscape.metrics``); reading all this does not.
"""

from landscape.scoring.cache import default_cache_dir, resolve_cache_dir
from landscape.scoring.floors import PAPER_FLOORS, floor_path, read_floor

__all__ = ["PAPER_FLOORS", "default_cache_dir", "floor_path", "read_floor", "resolve_cache_dir"]
