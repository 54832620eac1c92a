"""Analysis of a results folder: pandas frames of runs and evaluations, and the paper's
aggregations (top-5% settings, compute-vs-quality curves, seed medians, leaderboards) and
comparisons with bootstrap intervals, claims included.

Reads only what docs/results-layout.md describes; never imports torch or the training code.
The record vocabulary (statuses, origins, axes, the sentinel) is landscape.records'.
"""

from landscape.analysis.budget import (
    BUDGET_COLUMNS,
    DRAWS,
    budget_curve,
    budget_curves,
    expected_min_without_replacement,
    min_so_far,
)
from landscape.analysis.columns import (
    RANK,
    header,
    label,
    median_column,
    record_keys,
    recorded_scores,
)
from landscape.analysis.comparisons import COMPARISON_COLUMNS, axis_comparisons
from landscape.analysis.curves import seed_curves
from landscape.analysis.findings import FINDING_COLUMNS, check_claims, load_claims
from landscape.analysis.leaderboard import leaderboard, variant_summary
from landscape.analysis.load import Results, load_results
from landscape.analysis.matched import Samples, compare, matched_samples
from landscape.analysis.scores import effective_score, finished, is_finished, run_scores
from landscape.analysis.settings import VARIANT, seed_medians, variant_columns, with_origins
from landscape.analysis.top import (
    TOP5_COLUMNS,
    top5_table,
    top_count,
    top_fraction,
    top_runs,
    top_settings,
)
from landscape.records import AXES, FINISHED, SENTINEL

__all__ = [
    "AXES",
    "BUDGET_COLUMNS",
    "COMPARISON_COLUMNS",
    "DRAWS",
    "FINDING_COLUMNS",
    "FINISHED",
    "RANK",
    "SENTINEL",
    "TOP5_COLUMNS",
    "VARIANT",
    "Results",
    "Samples",
    "axis_comparisons",
    "budget_curve",
    "budget_curves",
    "check_claims",
    "compare",
    "effective_score",
    "expected_min_without_replacement",
    "finished",
    "header",
    "is_finished",
    "label",
    "leaderboard",
    "load_claims",
    "load_results",
    "matched_samples",
    "median_column",
    "min_so_far",
    "record_keys",
    "recorded_scores",
    "run_scores",
    "seed_curves",
    "seed_medians",
    "top5_table",
    "top_count",
    "top_fraction",
    "top_runs",
    "top_settings",
    "variant_columns",
    "variant_summary",
    "with_origins",
]
