"""Scores and their metadata, importable without torch.

- :data:`METRICS` (also ``landscape.METRICS``): every metric an evaluation computes, with its
  columns, direction and needs; :func:`metric` registers one (see ``registry.py``).
- :func:`metric_columns`: score column -> "lower" / "higher" (is better), for the analysis.
- :func:`read_floor`: a data set's cached real-data floor (``landscape floor``).

Computing the metrics needs torch (``landscape.metrics``); reading all this does not.
"""

from landscape.scoring import builtin, prc  # noqa: F401  (registers the built-in metrics)
from landscape.scoring.cache import default_cache_dir, resolve_cache_dir
from landscape.scoring.floors import PAPER_FLOORS, floor_path, read_floor
from landscape.scoring.registry import (
    DIRECTIONS,
    METRICS,
    NEEDS,
    Metric,
    metric,
    metric_columns,
    record_columns,
)

__all__ = [
    "DIRECTIONS",
    "METRICS",
    "NEEDS",
    "PAPER_FLOORS",
    "Metric",
    "default_cache_dir",
    "floor_path",
    "metric",
    "metric_columns",
    "read_floor",
    "record_columns",
    "resolve_cache_dir",
]
