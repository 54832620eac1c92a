"""Settings: the runs of one hyper-parameter setting (all config keys but the seed) grouped.

PAPER.md 6: each fixed setting is trained with several seeds and the median FID is reported.
Spread is given as the quartiles and the range over seeds. Medians and quantiles are taken
over the *effective* score (scores.py): a diverged seed counts with the best FID it reached
before diverging, so a setting has an infinite median only when most of its seeds failed or
never reached a finite FID: it is still listed, and ranks last.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from landscape.analysis.scores import finished

AXES = ("loss", "penalty", "normalization", "architecture")  # what the paper compares
VARIANT = ("protocol", "dataset", "architecture", "loss", "penalty", "normalization")


def variant_columns(runs: pd.DataFrame) -> list[str]:
    """The columns (of VARIANT) present in ``runs``: they name a variant (a configuration)."""
    return [c for c in VARIANT if c in runs]


def seed_medians(runs: pd.DataFrame, hyper: Sequence[str] = ()) -> pd.DataFrame:
    """One row per setting of the finished runs: median and spread of the score over seeds.

    Columns: ``setting``, the variant columns and ``hyper`` (one value per setting), the
    origin (``grid`` if any seed came from the fixed grid, else ``search``) and ``trial`` (the
    smallest search trial number), ``n_seeds``, ``n_diverged``, ``n_failed``,
    ``divergence_rate`` (diverged / finished seeds), ``fid_median``, ``fid_q25``, ``fid_q75``,
    ``fid_min``, ``fid_max``, ``is_median`` (IS at the best step, over the seeds with a finite
    effective score: ok or diverged, not failed).
    """
    done = finished(runs)
    if "origin" not in done:
        done["origin"] = "grid:"
    origin = done["origin"].fillna("").astype(str)
    done["_grid"] = origin.str.startswith("grid:")
    trial = pd.to_numeric(origin.str.partition(":")[2], errors="coerce")
    done["_trial"] = trial.where(origin.str.startswith("search:"))
    done["_diverged"] = done["status"].eq("diverged")
    done["_failed"] = done["status"].eq("failed")
    done["_is_scored"] = done["is_mean"].where(np.isfinite(done["effective"].to_numpy(float)))
    groups = done.groupby("setting", sort=False)
    eff = groups["effective"]
    table = pd.DataFrame(
        {
            "n_seeds": groups.size(),
            "n_diverged": groups["_diverged"].sum(),
            "n_failed": groups["_failed"].sum(),
            "fid_median": eff.median(),
            "fid_q25": eff.quantile(0.25),
            "fid_q75": eff.quantile(0.75),
            "fid_min": eff.min(),
            "fid_max": eff.max(),
            "is_median": groups["_is_scored"].median(),
            "grid": groups["_grid"].any(),
            "trial": groups["_trial"].min(),
        }
    )
    stats = ["fid_median", "fid_q25", "fid_q75"]
    table[stats] = table[stats].fillna(np.inf)  # inf - inf interpolations are NaN: both were inf
    table["divergence_rate"] = table["n_diverged"] / table["n_seeds"]
    table["origin"] = np.where(table["grid"], "grid", "search")
    table = table.drop(columns="grid")
    keys = variant_columns(done) + [c for c in hyper if c in done and c not in VARIANT]
    first = done.drop_duplicates("setting").set_index("setting")[keys]
    table = first.join(table).reset_index()
    order = ["setting", *keys, "origin", "trial", "n_seeds", "n_diverged", "n_failed"]
    rest = [c for c in table.columns if c not in order]
    return table[order + rest]
