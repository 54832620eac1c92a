"""Leaderboards: every setting ranked within its variant, and one line per variant.

A *variant* is one configuration of the study (protocol, data set, architecture, loss,
penalty, normalization); a *setting* is one choice of the remaining hyper-parameters, trained
with several seeds. Settings rank by their median score over seeds (settings.py).

A setting with one finished seed (every search trial: trials use the first seed; or a grid
setting whose other seeds have not finished) rests on one run: its "median" is that run, with
no spread, and the best of many such trials is the luckiest draw (the winner's curse). So by
default (``min_seeds`` = MIN_SEEDS = 2) settings with at least two seeds (and a finite
median) rank before those with fewer, and a variant's best setting is its best *replicated*
one whenever it has one; the others follow in median order. ``n_seeds`` (in leaderboard.csv,
marked in the report) says which rows rest on one seed. ``min_seeds=1`` ranks every setting
by its median alone. The variant's best single run is still in its summary
(``best_run_fid``), and the top-5% box plots and budget curves still pool every setting and
trial as the paper does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from landscape.analysis.columns import RANK, median_column
from landscape.analysis.scores import finished
from landscape.analysis.settings import seed_medians, variant_columns
from landscape.analysis.top import top_settings
from landscape.errors import UserError
from landscape.metrics import metric_columns

MIN_SEEDS = 2  # settings with at least this many seeds rank first (module docstring)


def check_min_seeds(min_seeds: object) -> None:
    """A UserError unless ``min_seeds`` is a whole number, 1 or more."""
    if isinstance(min_seeds, bool) or not isinstance(min_seeds, int) or min_seeds < 1:
        raise UserError(
            f"--min-seeds: expected a whole number of seeds, 1 or more (1: rank settings by "
            f"median alone; {MIN_SEEDS}, the default: settings with {MIN_SEEDS} or more seeds "
            f"first); got {min_seeds!r}"
        )


def leaderboard(
    runs: pd.DataFrame, hyper: Sequence[str] = (), *, min_seeds: int = MIN_SEEDS
) -> pd.DataFrame:
    """One row per setting (seed_medians), ranked within its variant: ``rank`` (1 = best),
    ``best`` (the variant's best setting) and the variant's ``variant_divergence_rate``.
    Settings with at least ``min_seeds`` finished seeds rank first, each group by median FID
    (1: by median alone). Sorted by protocol, then variants by their best setting's median,
    then rank."""
    check_min_seeds(min_seeds)
    table = seed_medians(runs, hyper)
    keys = variant_columns(table)
    if table.empty:
        return table.assign(rank=pd.Series(dtype=int), best=pd.Series(dtype=bool))
    # later: too few seeds, or an infinite median (most seeds failed), which ranks last anyway
    median = table["fid_median"].to_numpy(float)
    table["_few"] = (table["n_seeds"] < min_seeds).to_numpy() | ~np.isfinite(median)
    table = table.sort_values([*keys, "_few", "fid_median", "fid_q75", "setting"], kind="stable")
    groups = table.groupby(keys, sort=False, dropna=False)
    table["rank"] = groups.cumcount() + 1
    table["best"] = table["rank"].eq(1)
    table["variant_divergence_rate"] = groups["n_diverged"].transform("sum") / groups[
        "n_seeds"
    ].transform("sum")
    variant_best = groups["fid_median"].transform("first")  # its rank-1 setting's median
    table = table.assign(_vb=variant_best).sort_values(
        ["protocol", "_vb", *keys, "rank"], kind="stable"
    )
    return table.drop(columns=["_vb", "_few"]).reset_index(drop=True)


# The columns of variant_summary besides the variant's keys and the other scores' medians.
SUMMARY_COLUMNS = (
    "n_settings",
    "n_runs",
    "n_diverged",
    "n_failed",
    "divergence_rate",
    "setting",
    "fid_median",
    "fid_q25",
    "fid_q75",
    "best_n_seeds",
    "top5_median",
    "best_run_fid",
)


def variant_summary(runs: pd.DataFrame, board: pd.DataFrame) -> pd.DataFrame:
    """One row per variant: its runs and divergence, its best setting (median and quartiles
    over seeds, and the other scores' seed medians, e.g. ``is_median``), the median of its
    top-5% settings (seed medians, top.py) and its best single run. ``board`` is
    ``leaderboard(runs)``."""
    keys = variant_columns(board)
    medians = [median_column(c) for c in metric_columns() if c != RANK]
    medians = [c for c in medians if c in board]
    if board.empty:  # mid-study, nothing finished yet: every column, no row
        return pd.DataFrame(columns=[*keys, *SUMMARY_COLUMNS, *medians])
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
    columns = ["setting", "fid_median", "fid_q25", "fid_q75", *medians, "n_seeds"]
    summary = summary.join(best[columns].rename(columns={"n_seeds": "best_n_seeds"}))
    top = top_settings(board, keys)
    summary["top5_median"] = top.groupby(keys, sort=False, dropna=False)["fid"].median()
    done = finished(runs)
    summary["best_run_fid"] = done.groupby(keys, sort=False, dropna=False)["effective"].min()
    return summary.reset_index()
