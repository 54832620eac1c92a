"""Training curves: each metric against the training step, median and range over seeds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from landscape.analysis.columns import RANK, recorded_scores
from landscape.analysis.read import read_evals
from landscape.records import RUNS_DIR, RunFiles


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


LOSSES = ("loss_d", "loss_g")  # train.jsonl's columns drawn beside the FID curves


def read_train_log(path: str | Path) -> pd.DataFrame:
    """A run's ``train.jsonl`` as a frame (step, loss_d, loss_g, penalty, time); a torn line is
    skipped, and of a step logged twice (a resumed run) the last line wins."""
    rows = read_evals(str(path), [])
    frame = pd.DataFrame.from_records(rows, columns=["step", *LOSSES, "penalty", "time"])
    return frame.drop_duplicates("step", keep="last").sort_values("step", ignore_index=True)


def loss_curves(root: str | Path, runs: pd.DataFrame, settings: Sequence[str]) -> pd.DataFrame:
    """Per (setting, step): ``loss_d`` and ``loss_g`` ``_median``, ``_min`` and ``_max`` over
    the seeds, read from the train logs of ``settings``' runs (the few the report draws)."""
    chosen = runs.loc[runs["setting"].isin(list(settings)), ["run_id", "setting"]]
    parts = []
    for run_id, setting in chosen.itertuples(index=False):
        log = read_train_log(Path(root) / RUNS_DIR / str(run_id) / RunFiles.TRAIN_LOG)
        parts.append(log.assign(setting=setting))
    if not parts:
        return pd.DataFrame(columns=["setting", "step"])
    rows = pd.concat(parts, ignore_index=True)
    for column in LOSSES:
        rows[column] = pd.to_numeric(rows[column], errors="coerce")
    groups = rows.groupby(["setting", "step"], sort=True)
    out = {}
    for column in LOSSES:
        out[f"{column}_median"] = groups[column].median()
        out[f"{column}_min"] = groups[column].min()
        out[f"{column}_max"] = groups[column].max()
    return pd.DataFrame(out).reset_index()
