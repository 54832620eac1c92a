"""The best 5% (PAPER.md 8, the paper's box plots).

The paper pools *settings*: each fixed setting counts once, with its median FID over seeds,
and each search trial counts once (it is one run). Per group (a protocol and a value of the
axis compared, e.g. each normalization, or each whole variant), ``top_settings`` keeps the
best ceil(5% of the group's settings), at least one, by that seed median (settings.py): a
diverged seed competes with the best FID it reached, a failed one counts +inf. Ties break by
setting id.

``top_runs`` is the per-run view (one lucky seed can win it): each finished run is a unit.
The report offers it only as a labelled alternative; the paper's figure is ``top_settings``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from landscape.analysis.scores import finished
from landscape.records import Origin, OriginKind

TOP5_COLUMNS = ["protocol", "axis", "value", "rank", "setting", "origin", "fid", "n_seeds"]


def top_count(n: int | np.ndarray, fraction: float = 0.05) -> np.ndarray:
    """ceil(fraction * n), at least 1; exact for fractions like 0.05 (0.05 * 60 is 3, not 4)."""
    return np.maximum(1, np.ceil(np.round(np.asarray(n) * fraction, 9))).astype(int)


def _best(frame: pd.DataFrame, keys: list[str], score: str, tie: str, fraction: float):
    frame = frame.sort_values([*keys, score, tie], kind="stable")
    groups = frame.groupby(keys, sort=False, dropna=False)
    rank = groups.cumcount()
    keep = rank.to_numpy() < top_count(groups[tie].transform("size").to_numpy(), fraction)
    out = frame.assign(rank=rank + 1, n_units=groups[tie].transform("size"))
    return out[keep].reset_index(drop=True)


def top_settings(
    settings: pd.DataFrame, by: str | Sequence[str], fraction: float = 0.05
) -> pd.DataFrame:
    """The best settings of each (protocol, *by) group of ``settings`` (one row per setting, as
    seed_medians gives), best first, with ``fid`` (its seed median), ``rank`` and ``n_units``
    (the settings of the group)."""
    keys = list(dict.fromkeys(["protocol", *([by] if isinstance(by, str) else by)]))
    frame = settings.assign(fid=settings["fid_median"].astype(float))
    return _best(frame, keys, "fid", "setting", fraction)


def top_runs(runs: pd.DataFrame, by: str | Sequence[str], fraction: float = 0.05) -> pd.DataFrame:
    """The per-run view: the best runs of each (protocol, *by) group, best first, with
    ``effective`` and ``rank``. Not the paper's figure (see the module's docstring)."""
    keys = list(dict.fromkeys(["protocol", *([by] if isinstance(by, str) else by)]))
    return _best(finished(runs), keys, "effective", "run_id", fraction)


top_fraction = top_runs  # the name of the per-run view before settings were the units


def origin_text(top: pd.DataFrame) -> pd.Series:
    """The Origin string of each setting row (``grid:hp-01``, ``search:<cell>:3``)."""

    def one(kind: str, name: str, trial: float) -> str:
        kind = OriginKind(kind)
        if kind is OriginKind.SEARCH:
            return str(Origin.search(name, int(trial)))
        return str(Origin(kind, "" if kind is OriginKind.MANUAL else str(name)))

    if top.empty:
        return pd.Series([], index=top.index, dtype=object)
    columns = zip(top["origin"], top["origin_name"], top["trial"], strict=True)
    return pd.Series([one(*c) for c in columns], index=top.index, dtype=object)


def top5_table(top: pd.DataFrame, axis: str) -> pd.DataFrame:
    """top5.csv's rows for one axis (top_settings by ``axis``): TOP5_COLUMNS and n_units."""
    return top.assign(axis=axis, value=top[axis].astype(str), origin=origin_text(top))[
        [*TOP5_COLUMNS, "n_units"]
    ]
