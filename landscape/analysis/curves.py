"""Training curves: each metric against the training step, median and range over seeds."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from landscape.analysis.columns import RANK, recorded_scores


def seed_curves(
    runs: pd.DataFrame,
    evals: pd.DataFrame,
    settings: Sequence[str],
    metrics: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per (setting, step): ``<metric>_median``, ``_min``, ``_max`` over the seeds evaluated at
    that step, and ``n`` (seeds with a finite FID there). ``metrics``: by default every score
    the evaluations recorded (columns.recorded_scores), FID first. Diverged evaluations are
    NaN and are left out of the statistics; a step where every seed diverged has NaN
    statistics."""
    chosen = runs.loc[runs["setting"].isin(list(settings)), ["run_id", "setting"]]
    rows = evals.merge(chosen, on="run_id", how="inner")
    groups = rows.groupby(["setting", "step"], sort=True)
    parts = {"n": groups[RANK].count()}
    for metric in recorded_scores(rows) if metrics is None else metrics:
        if metric not in rows:
            continue
        parts[f"{metric}_median"] = groups[metric].median()
        parts[f"{metric}_min"] = groups[metric].min()
        parts[f"{metric}_max"] = groups[metric].max()
    return pd.DataFrame(parts).reset_index()
