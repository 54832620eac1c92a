"""Settings: the runs of one hyper-parameter setting (all config keys but the seed) grouped.

PAPER.md 6: each fixed setting is trained with several seeds and the median FID is reported.
Spread is given as the quartiles and the range over seeds. Medians and quantiles are taken
over the *effective* score (scores.py): a diverged seed counts with the best FID it reached
before diverging, so a setting has an infinite median only when most of its seeds failed or
never reached a finite FID: it is still listed, and ranks last.

Where a run came from is its config's ``origin``, read with landscape.records.Origin (the
planner writes it with the same class): ``origin_columns`` turns the strings into the typed
columns ``origin_kind`` (grid, search, target, manual), ``origin_name`` (the grid setting's
name, the search cell, the target's number) and ``trial`` (a search trial's number).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from landscape.analysis.columns import median_column, recorded_scores
from landscape.analysis.scores import finished
from landscape.records import AXES, Origin, OriginKind, Status

VARIANT = ("protocol", "dataset", *AXES[3:], *AXES[:3])  # dataset, architecture, loss, ...
ORIGIN_COLUMNS = ("origin_kind", "origin_name", "trial")
SEARCH = OriginKind.SEARCH.value


def variant_columns(runs: pd.DataFrame) -> list[str]:
    """The columns (of VARIANT) present in ``runs``: they name a variant (a configuration)."""
    return [c for c in VARIANT if c in runs]


def origin_columns(origins: pd.Series, problems: list[str] | None = None) -> pd.DataFrame:
    """The typed origin of each row (ORIGIN_COLUMNS); each distinct string is parsed once. An
    unreadable origin is a manual run, named in ``problems``."""
    text = origins.astype(object).where(origins.notna(), "").astype(str)
    parsed = {}
    for value in text.unique():
        try:
            parsed[value] = Origin.parse(value)
        except ValueError as err:
            parsed[value] = Origin.parse("")
            if problems is not None:
                problems.append(str(err))
    kind = text.map({k: o.kind.value for k, o in parsed.items()})
    name = text.map({k: o.name for k, o in parsed.items()})
    trial = text.map({k: np.nan if o.trial is None else float(o.trial) for k, o in parsed.items()})
    return pd.DataFrame({"origin_kind": kind, "origin_name": name, "trial": trial.astype(float)})


def with_origins(runs: pd.DataFrame, problems: list[str] | None = None) -> pd.DataFrame:
    """``runs`` with ORIGIN_COLUMNS (parsed from ``origin`` unless present already)."""
    if all(c in runs for c in ORIGIN_COLUMNS):
        return runs
    origin = runs["origin"] if "origin" in runs else pd.Series("", index=runs.index)
    parsed = origin_columns(origin, problems).set_index(runs.index)
    return runs.drop(columns=[c for c in ORIGIN_COLUMNS if c in runs]).join(parsed)


def seed_medians(runs: pd.DataFrame, hyper: Sequence[str] = ()) -> pd.DataFrame:
    """One row per setting of the finished runs: median and spread of the score over seeds.

    Columns: ``setting``, the variant columns and ``hyper`` (one value per setting),
    ``origin`` (the kind: ``grid``/``target``/``manual`` if any seed is a fixed setting of
    the study, else ``search``), ``origin_name`` and ``trial`` (the smallest search trial
    number), ``n_seeds``, ``n_diverged``, ``n_failed``, ``divergence_rate`` (diverged /
    finished seeds), ``fid_median``, ``fid_q25``, ``fid_q75``, ``fid_min``, ``fid_max``,
    and per other recorded score (columns.recorded_scores: ``is_mean`` -> ``is_median``, a plugin's
    ``knn_precision`` -> ``knn_precision_median``) its median at the runs' best step, over the seeds
    with a finite effective score (ok or diverged, not failed).
    """
    done = with_origins(finished(runs))
    done["_diverged"] = done["status"].eq(Status.DIVERGED)
    done["_failed"] = done["status"].eq(Status.FAILED)
    scored = np.isfinite(done["effective"].to_numpy(float))
    others = {c: median_column(c) for c in recorded_scores(done, rank=False)}
    for column in others:
        done[f"_score_{column}"] = pd.to_numeric(done[column], errors="coerce").where(scored)
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
            **{median: groups[f"_score_{c}"].median() for c, median in others.items()},
        }
    )
    stats = ["fid_median", "fid_q25", "fid_q75"]
    table[stats] = table[stats].fillna(np.inf)  # inf - inf interpolations are NaN: both were inf
    table["divergence_rate"] = table["n_diverged"] / table["n_seeds"]
    # the setting's origin: a fixed one if any seed has one, else its earliest search trial
    done["_search"] = done["origin_kind"].eq(SEARCH)
    first = done.sort_values(["_search", "trial"], kind="stable").drop_duplicates("setting")
    first = first.drop(columns="origin", errors="ignore").set_index("setting")
    first = first.rename(columns={"origin_kind": "origin"})
    keys = variant_columns(done) + [c for c in hyper if c in done and c not in VARIANT]
    table = first[[*keys, "origin", "origin_name", "trial"]].join(table).reset_index()
    order = ["setting", *keys, "origin", "origin_name", "trial", "n_seeds", "n_diverged"]
    rest = [c for c in table.columns if c not in order]
    return table[order + rest]
