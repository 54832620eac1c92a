"""Leaderboards: every setting ranked within its variant, and one line per variant.

A *variant* is one configuration of the study (protocol, data set, architecture, loss,
penalty, normalization); a *setting* is one choice of the remaining hyper-parameters, trained
with several seeds. Settings rank by their median score over seeds (settings.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from landscape.analysis.columns import RANK, median_column
from landscape.analysis.scores import finished
from landscape.analysis.settings import seed_medians, variant_columns
from landscape.analysis.top import top_settings
from landscape.metrics import metric_columns


def leaderboard(runs: pd.DataFrame, hyper: Sequence[str] = ()) -> pd.DataFrame:
    """One row per setting (seed_medians), ranked within its variant: ``rank`` (1 = best),
    ``best`` (the variant's best setting) and the variant's ``variant_divergence_rate``.
    Sorted by protocol, then variants by their best median, then rank."""
    table = seed_medians(runs, hyper)
    keys = variant_columns(table)
    if table.empty:
        return table.assign(rank=pd.Series(dtype=int), best=pd.Series(dtype=bool))
    table = table.sort_values([*keys, "fid_median", "fid_q75", "setting"], kind="stable")
    groups = table.groupby(keys, sort=False, dropna=False)
    table["rank"] = groups.cumcount() + 1
    table["best"] = table["rank"].eq(1)
    table["variant_divergence_rate"] = groups["n_diverged"].transform("sum") / groups[
        "n_seeds"
    ].transform("sum")
    variant_best = groups["fid_median"].transform("min")
    table = table.assign(_vb=variant_best).sort_values(
        ["protocol", "_vb", *keys, "rank"], kind="stable"
    )
    return table.drop(columns="_vb").reset_index(drop=True)


def variant_summary(runs: pd.DataFrame, board: pd.DataFrame) -> pd.DataFrame:
    """One row per variant: its runs and divergence, its best setting (median and quartiles
    over seeds, and the other scores' seed medians, e.g. ``is_median``), the median of its
    top-5% settings (seed medians, top.py) and its best single run. ``board`` is
    ``leaderboard(runs)``."""
    keys = variant_columns(board)
    if board.empty:
        return pd.DataFrame(columns=[*keys, "n_settings", "n_runs"])
    groups = board.groupby(keys, sort=False, dropna=False)
    summary = pd.DataFrame(
        {
            "n_settings": groups.size(),
            "n_runs": groups["n_seeds"].sum(),
            "n_diverged": groups["n_diverged"].sum(),
            "n_failed": groups["n_failed"].sum(),
        }
    )
    summary["divergence_rate"] = summary["n_diverged"] / summary["n_runs"]
    best = board[board["best"]].set_index(keys)
    medians = [median_column(c) for c in metric_columns() if c != RANK]
    medians = [c for c in medians if c in board]
    columns = ["setting", "fid_median", "fid_q25", "fid_q75", *medians, "n_seeds"]
    summary = summary.join(best[columns].rename(columns={"n_seeds": "best_n_seeds"}))
    top = top_settings(board, keys)
    summary["top5_median"] = top.groupby(keys, sort=False, dropna=False)["fid"].median()
    done = finished(runs)
    summary["best_run_fid"] = done.groupby(keys, sort=False, dropna=False)["effective"].min()
    return summary.reset_index()
