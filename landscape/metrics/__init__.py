"""Metrics: what is measured (the ``METRICS`` registry) and how to read it, without torch.

- :data:`METRICS` (also ``landscape.METRICS``): every metric an evaluation may compute, with
  its columns, direction, needs and network; :func:`metric` registers one (see
  ``registry.py``); :func:`default_metrics` / :func:`selected_metrics`: which are computed
  when a study lists none / the ones it lists.
- :func:`metric_columns`: score column -> "lower" / "higher" (is better), for the analysis;
  :func:`column_labels`: score column -> its title (``FID``, ``IS``, ...), for the report.
- :func:`read_floor`: a data set's cached real-data floor (``landscape floor``).

Computing the metrics needs torch (``landscape.evaluation``); reading all this does not.
"""

from landscape.metrics import builtin, density_coverage, prc  # noqa: F401  (registers the built-in metrics)
from landscape.metrics.cache import default_cache_dir, resolve_cache_dir
from landscape.metrics.floors import PAPER_FLOORS, floor_path, read_floor
from landscape.metrics.registry import (
    DIRECTIONS,
    INCEPTION,
    METRICS,
    NEEDS,
    Metric,
    column_labels,
    default_metrics,
    metric,
    metric_columns,
    record_columns,
    selected_metrics,
)

__all__ = [
    "DIRECTIONS",
    "METRICS",
    "INCEPTION",
    "NEEDS",
    "PAPER_FLOORS",
    "Metric",
    "column_labels",
    "default_cache_dir",
    "default_metrics",
    "floor_path",
    "metric",
    "metric_columns",
    "read_floor",
    "record_columns",
    "resolve_cache_dir",
    "selected_metrics",
]

# Until 0.2 this package was the evaluation machinery (now ``landscape.evaluation``) and the
# registry was ``landscape.scoring``. The old entry points keep working: ``python -m
# landscape.metrics prepare-stats`` (``__main__.py``) and the torch-side names below, loaded
# from ``landscape.evaluation`` on first use so that importing the registry stays torch-free.
_MOVED_TO_EVALUATION = {
    "EVAL_DIVERGED",
    "Evaluator",
    "InceptionWeightsMissing",
    "Protocol",
    "ProtocolMismatchError",
    "assert_one_protocol",
    "best_evaluation",
    "inception_weights_path",
    "prepare_stats",
    "protocol_for",
    "protocol_of",
    "run_score",
}


def __getattr__(name: str):
    if name in _MOVED_TO_EVALUATION:
        import landscape.evaluation

        return getattr(landscape.evaluation, name)
    raise AttributeError(f"module 'landscape.metrics' has no attribute {name!r}")
