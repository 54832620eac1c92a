"""How much the evaluation schedule matters: run scores under fewer evaluations.

A run's score is its best FID over its evaluations (PAPER.md 7), so it depends on how often it
was evaluated: the paper evaluates every 20K steps. From the evaluations recorded, the score a
run would have had under a sparser schedule is the minimum over a subset of them: every k-th
evaluation counted from step 0, the last one always kept (training ends with one either way),
or the last one only. Fewer evaluations can only raise (worsen) a run's score or leave it.

``schedule_table`` says by how much, per schedule: the median change of the run scores, the
share of runs whose score got worse, and the median over variants of the change in the mean
FID of each variant's best 5% of runs (top_runs: the per-run view, each finished run a unit).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from landscape.analysis.columns import RANK
from landscape.analysis.top import top_runs
from landscape.records import AXES

# name -> keep every k-th evaluation (and the last); 0: the last evaluation only
SCHEDULES = {"every evaluation": 1, "every 2nd": 2, "every 4th": 4, "last only": 0}
SCHEDULE_COLUMNS = [
    "schedule",
    "evaluations",
    "median_change",
    "worse_share",
    "top5_median_change",
    "runs",
]


def thinned(evals: pd.DataFrame, every: int) -> pd.DataFrame:
    """The evaluations a sparser schedule would have made: every ``every``-th of each run (in
    step order, from the first), plus its last; ``every`` 0 keeps the last only."""
    evals = evals.sort_values(["run_id", "step"], kind="stable")
    index = evals.groupby("run_id", sort=False).cumcount()
    last = index == evals.groupby("run_id", sort=False)["step"].transform("size") - 1
    keep = last if every == 0 else (index % every == 0) | last
    return evals[keep.to_numpy()]


def scores_under(evals: pd.DataFrame, every: int) -> pd.Series:
    """Per run_id: the best finite FID under the schedule (NaN: none finite)."""
    kept = thinned(evals, every)
    fid = kept[RANK].astype(float).where(np.isfinite(kept[RANK].astype(float)))
    return fid.groupby(kept["run_id"]).min()


def schedule_table(runs: pd.DataFrame, evals: pd.DataFrame) -> pd.DataFrame:
    """One row per schedule (SCHEDULES) for the finished runs of one protocol: the median number
    of evaluations per run, the median change of the run score (FID points), the share of runs
    whose score got worse, and the median over variants of the change in their top-5% mean."""
    done = runs[runs["status"].isin(["ok", "diverged", "failed"])]
    evals = evals[evals["run_id"].isin(done["run_id"])]
    if done.empty or evals.empty:
        return pd.DataFrame(columns=SCHEDULE_COLUMNS)
    axes = [a for a in AXES if a in done]
    full = scores_under(evals, 1)
    base_top = _top_means(done, full, axes)
    rows = []
    for name, every in SCHEDULES.items():
        score = scores_under(evals, every)
        change = (score - full).reindex(full.index)
        both = change.dropna()
        top = (_top_means(done, score, axes) - base_top).dropna()
        count = thinned(evals, every).groupby("run_id").size()
        rows.append(
            {
                "schedule": name,
                "evaluations": float(count.median()),
                "median_change": float(both.median()) if len(both) else np.nan,
                "worse_share": float((both > 1e-12).mean()) if len(both) else np.nan,
                "top5_median_change": float(top.median()) if len(top) else np.nan,
                "runs": int(len(both)),
            }
        )
    return pd.DataFrame(rows, columns=SCHEDULE_COLUMNS)


def _top_means(runs: pd.DataFrame, score: pd.Series, axes: list[str]) -> pd.Series:
    """Per variant (the axes' values joined): the mean FID of its best 5% of runs when each run
    scores ``score`` (failed or unscored runs: +inf, as effective_score counts them)."""
    frame = runs.assign(fid=runs["run_id"].map(score))
    frame["_variant"] = frame[axes].astype(str).agg(" · ".join, axis=1) if axes else "all"
    best = top_runs(frame, "_variant")
    best = best[np.isfinite(best["effective"])]
    return best.groupby("_variant")["effective"].mean()
