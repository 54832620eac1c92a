"""A run's score, and the score the aggregations rank it by.

- ``fid`` (the run's score, PAPER.md 7): the minimum FID over all its evaluations, step 0
  included; sentinel (diverged) evaluations do not count. Every other registered metric the
  evaluations recorded (columns.py: ``is_mean``, ``kid_mean``, their spreads, plugins' scores)
  is taken at that same evaluation (``best_step``). NaN when no evaluation has a finite FID.
- ``effective_score``: what top-5%, seed medians, budget curves, comparisons and leaderboards
  rank by. As in compare_gan (PAPER.md 7), a diverged run keeps the best FID it reached before
  diverging (its NaN evaluations do not count); a run with no finite FID at all, and a failed
  run, score +inf, so they are never among the best unless nothing else is, and are counted,
  never dropped. Unfinished runs (running, pending) score NaN: not aggregated yet.

The statuses and what "finished" and "scored" mean are landscape.records' (Status).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from landscape.analysis.columns import RANK, record_keys
from landscape.records import FINISHED, SCORED

EVAL_COLUMNS = ("best_step", "n_evals", "last_eval_step")  # beside the metrics' columns
_FINISHED = [s.value for s in FINISHED]
_SCORED = [s.value for s in SCORED]


def add_scores(runs: pd.DataFrame, evals: pd.DataFrame, hyper: Sequence[str]) -> pd.DataFrame:
    """``runs`` plus run_scores' columns and ``setting``, sorted best first (no score last)."""
    # within each protocol: a run scored again under another one has a row per protocol
    parts = [run_scores(g).assign(protocol=p) for p, g in evals.groupby("protocol", sort=False)]
    scored = pd.concat(parts) if parts else run_scores(evals).assign(protocol=None)
    scored = scored.rename_axis("run_id").reset_index()
    runs = runs.drop(columns=[c for c in scored if c in runs and c not in ("run_id", "protocol")])
    runs = runs.merge(scored, how="left", on=["run_id", "protocol"])
    runs["n_evals"] = runs["n_evals"].fillna(0).astype(int)
    runs["setting"] = setting_ids(runs, hyper)
    # without a score: finished runs (failed) before unfinished ones, then by run_id
    runs["_unfinished"] = ~is_finished(runs["status"])
    order = ["protocol", "fid", "_unfinished", "run_id"]
    runs = runs.sort_values(order, na_position="last", kind="stable")
    return runs.drop(columns="_unfinished").reset_index(drop=True)


def run_scores(evals: pd.DataFrame) -> pd.DataFrame:
    """Per run_id: the best (minimum finite) FID, the other recorded metrics at that step
    (columns.record_keys), ``best_step``, ``n_evals`` and ``last_eval_step``."""
    counts = evals.groupby("run_id", sort=False)["step"].agg(n_evals="size", last_eval_step="max")
    finite = evals[np.isfinite(evals[RANK].to_numpy(dtype=float))]
    # evals are sorted by (run_id, step): the first minimum is the earliest step that reached it
    best = finite.loc[finite.groupby("run_id", sort=False)[RANK].idxmin()]
    keys = record_keys(evals)
    best = best.set_index("run_id")[[*keys, "step"]].rename(columns={"step": "best_step"})
    return counts.join(best, how="left")[[*keys, *EVAL_COLUMNS]]


def setting_ids(runs: pd.DataFrame, hyper: Sequence[str]) -> pd.Series:
    """A 12-hex-digit id per row, equal for rows equal on every hyper-parameter (seeds differ)."""
    columns = [c for c in hyper if c in runs]
    if not columns or runs.empty:
        return pd.Series(["-"] * len(runs), index=runs.index, dtype=object)
    frame = runs[columns].astype(str)  # one dtype, so 2e-4 and "0.0002" hash alike everywhere
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return pd.Series([f"{h:016x}"[:12] for h in hashes], index=runs.index, dtype=object)


def is_finished(status: pd.Series) -> pd.Series:
    """True for the statuses every aggregation counts (Status.finished)."""
    return status.isin(_FINISHED)


def effective_score(runs: pd.DataFrame) -> pd.Series:
    """The score aggregations rank by: the best finite FID of an ok or diverged run, +inf for a
    failed run or one with no finite FID, NaN while unfinished."""
    fid = runs["fid"].astype(float)
    ok = runs["status"].isin(_SCORED) & np.isfinite(fid)
    score = fid.where(ok, np.inf)
    return score.where(is_finished(runs["status"]))


def finished(runs: pd.DataFrame) -> pd.DataFrame:
    """The finished runs (ok, diverged, failed) with their ``effective`` score column."""
    done = runs[is_finished(runs["status"])].copy()
    done["effective"] = effective_score(done)
    return done
