"""Analysis of a results folder: pandas frames of runs and evaluations, and the paper's
aggregations (top-5% distributions, compute-vs-quality curves, seed medians, leaderboards).

Reads only what docs/results-layout.md describes; never imports torch or the training code.
"""

from landscape.analysis.budget import (
    DRAWS,
    budget_curve,
    budget_curves,
    expected_min_without_replacement,
    min_so_far,
)
from landscape.analysis.curves import seed_curves
from landscape.analysis.leaderboard import leaderboard, variant_summary
from landscape.analysis.load import SENTINEL, Results, load_results
from landscape.analysis.scores import FINISHED, effective_score, finished, run_scores
from landscape.analysis.settings import AXES, VARIANT, seed_medians, variant_columns
from landscape.analysis.top import top_count, top_fraction

__all__ = [
    "AXES",
    "DRAWS",
    "FINISHED",
    "SENTINEL",
    "VARIANT",
    "Results",
    "budget_curve",
    "budget_curves",
    "effective_score",
    "expected_min_without_replacement",
    "finished",
    "leaderboard",
    "load_results",
    "min_so_far",
    "run_scores",
    "seed_curves",
    "seed_medians",
    "top_count",
    "top_fraction",
    "variant_columns",
    "variant_summary",
]
