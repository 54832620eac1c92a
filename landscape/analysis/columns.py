"""Which scores a study recorded, named and directed by the metric registry (landscape.metrics).

The analysis and the report spell no metric name but :data:`RANK`: every registered metric
(built-in or a plugin's, ``landscape.metrics.METRICS``) that a study's evaluations recorded is
read, taken at each run's best-FID step and shown; a registered metric that no evaluation
recorded (a value in none of them, e.g. MS-SSIM outside CelebA) is left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from landscape.metrics import column_labels, metric_columns, record_columns

RANK = "fid"  # the score that ranks runs (PAPER.md 7); every other score is reported beside it
ARROWS = {"lower": "↓", "higher": "↑"}


def record_keys(frame: pd.DataFrame) -> list[str]:
    """The registered record keys (scores and spreads, registry order) that ``frame`` holds with
    at least one value; :data:`RANK` always."""
    return [k for k in record_columns() if k == RANK or _recorded(frame, k)]


def recorded_scores(frame: pd.DataFrame, *, rank: bool = True) -> dict[str, str]:
    """Registered score column -> direction ("lower"/"higher"), for those ``frame`` holds with
    at least one value (registry order; :data:`RANK` first unless ``rank`` is False)."""
    found = {c: d for c, d in metric_columns().items() if c != RANK and _recorded(frame, c)}
    return ({RANK: metric_columns().get(RANK, "lower")} if rank else {}) | found


def median_column(column: str) -> str:
    """The seed-median column of a score at the best step: ``is_mean`` -> ``is_median``,
    ``knn_precision`` -> ``knn_precision_median``."""
    return column.removesuffix("_mean") + "_median"


def label(column: str) -> str:
    """A score's title, as its metric registered it (``FID``, ``IS``, ``MS-SSIM``; a column
    without a declared title is its own)."""
    return column_labels().get(column, column)


def header(column: str, suffix: str = "") -> str:
    """A table header: the score's label, ``suffix`` and its direction (``FID ↓``, ``IS ↑``)."""
    arrow = ARROWS.get(metric_columns().get(column, ""), "")
    return " ".join(part for part in (label(column) + suffix, arrow) if part)


def _recorded(frame: pd.DataFrame, column: str) -> bool:
    if column not in frame:
        return False
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(float)
    return bool(np.isfinite(values).any())
