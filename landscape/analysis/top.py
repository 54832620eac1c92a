"""The best 5% of runs (PAPER.md 8, the paper's box plots).

Per group (a protocol and a value of the axis compared, e.g. each normalization), keep the
best ceil(5% of n) finished runs, at least one, by effective score (scores.py): a diverged run
competes with the best FID it reached before diverging; a failed run, or one with no finite
FID, counts as +inf, so it is kept only when nothing better is left. Ties break by run_id.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from landscape.analysis.scores import finished


def top_count(n: int | np.ndarray, fraction: float = 0.05) -> np.ndarray:
    """ceil(fraction * n), at least 1; exact for fractions like 0.05 (0.05 * 60 is 3, not 4)."""
    return np.maximum(1, np.ceil(np.round(np.asarray(n) * fraction, 9))).astype(int)


def top_fraction(
    runs: pd.DataFrame, by: str | Sequence[str], fraction: float = 0.05
) -> pd.DataFrame:
    """The best runs of each (protocol, *by) group, best first, with ``effective`` and ``rank``."""
    keys = list(dict.fromkeys(["protocol", *([by] if isinstance(by, str) else by)]))
    done = finished(runs)
    done = done.sort_values([*keys, "effective", "run_id"], kind="stable")
    groups = done.groupby(keys, sort=False, dropna=False)
    rank = groups.cumcount()
    keep = rank.to_numpy() < top_count(groups["run_id"].transform("size").to_numpy(), fraction)
    return done.assign(rank=rank + 1)[keep].reset_index(drop=True)
