"""comparisons.csv: every pair of values of each compared axis, on matched settings, with the
bootstrap intervals and verdict of matched.py; and the one bootstrap a claim shares with the
comparison of the same two sides (findings.py).

The table is *exploratory*: it tests every pair the study happens to vary, a dozen or more
tests, chosen by no one in advance. Its ``verdict`` and intervals are per comparison (each at
95% on its own), so among many comparisons some "winners" would appear by chance. The
family-wise columns control that: ``p`` is each comparison's two-sided bootstrap p-value
(matched.bootstrap_p), ``p_holm`` the Holm (1979) step-down adjustment of the p-values of one
protocol's table, and ``significant`` is true where ``p_holm`` <= FAMILY_ALPHA (0.05): the
chance of one or more false "significant" rows in a protocol's table is then at most 5%,
whatever the dependence between the comparisons. The family holds the rows with a verdict to
give (at least MIN_RUNS runs a side); the others have no ``p_holm`` and are not significant.
Claims written in the study file before it ran (findings.py) are confirmatory: each is one
planned test and is not adjusted.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from landscape.analysis.matched import (
    LEVEL,
    MIN_RUNS,
    RESAMPLES,
    compare,
    matchable,
    matched_samples,
    verdict,
)

FAMILY_ALPHA = round(1 - LEVEL, 10)  # the family-wise error rate the table controls (0.05)
FAMILY_COLUMNS = ("p", "p_holm", "significant")


def seed_of(*parts: object) -> int:
    """A stable bootstrap seed per comparison, so reports are reproducible run to run."""
    return zlib.crc32("\x1f".join(map(str, parts)).encode())


COMPARISON_COLUMNS = [
    "protocol",
    "axis",
    "a",
    "b",
    "pairs",
    "seeds",
    "runs_a",
    "runs_b",
    "diff",
    "diff_low",
    "diff_high",
    "p_better",
    "p_low",
    "p_high",
    "verdict",
    *FAMILY_COLUMNS,
]


def holm(p: np.ndarray | list[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values: sorted ascending, the i-th (from 0) of m is
    max over j <= i of min(1, (m - j) p_(j)). NaN entries are not in the family (stay NaN)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    inside = ~np.isnan(p)
    values = p[inside]
    m = len(values)
    if m == 0:
        return out
    order = np.argsort(values, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * values[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    out[inside] = adjusted
    return out


def family_wise(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` (one protocol's comparisons) with ``p_holm`` and ``significant``."""
    has_verdict = (rows[["runs_a", "runs_b"]].min(axis=1) >= MIN_RUNS) & rows["p"].notna()
    p_holm = holm(rows["p"].where(has_verdict).to_numpy(float))
    return rows.assign(p_holm=p_holm, significant=np.nan_to_num(p_holm, nan=1.0) <= FAMILY_ALPHA)


def flipped(row: dict) -> dict:
    """The same comparison read from b's side (the bootstrap's resamples are shared)."""
    return {
        **row,
        "runs_a": row["runs_b"],
        "runs_b": row["runs_a"],
        "diff": -row["diff"],
        "diff_low": -row["diff_high"],
        "diff_high": -row["diff_low"],
        "p_better": 1 - row["p_better"],
        "p_low": 1 - row["p_high"],
        "p_high": 1 - row["p_low"],
    }


def compare_sides(
    group: pd.DataFrame,
    a: Mapping[str, str],
    b: Mapping[str, str],
    *,
    protocol: str,
    resamples: int = RESAMPLES,
) -> dict:
    """compare() of side ``a`` against side ``b`` in ``group`` (``matchable`` runs of one
    protocol), plus ``seeds``. The two sides are put in one canonical order first and the
    bootstrap is seeded by them, so a comparison and a claim on the same sides report the same
    numbers, mirrored."""
    key_a, key_b = repr(sorted(a.items())), repr(sorted(b.items()))
    swap = key_b < key_a
    first, second = (b, a) if swap else (a, b)
    samples = matched_samples(group, first, second)
    seed = seed_of(protocol, *sorted((key_a, key_b)))
    row = {**compare(samples, resamples=resamples, seed=seed), "seeds": samples.seeds()}
    return flipped(row) if swap else row


def axis_comparisons(
    runs: pd.DataFrame, axes: list[str], *, resamples: int = RESAMPLES
) -> pd.DataFrame:
    """comparisons.csv's rows: every pair of values of each axis in ``axes``, per protocol,
    written with the more likely winner as ``a`` (so ``p_better`` >= 1/2). ``seeds``: the
    median number of seeds per side in a matched setting; ``p``, ``p_holm``, ``significant``:
    the family-wise control over each protocol's rows (module docstring)."""
    tables = []
    for protocol, group in matchable(runs).groupby("protocol", sort=True):
        rows = []
        for axis in axes:
            if axis not in group:
                continue
            values = sorted(group[axis].dropna().astype(str).unique())
            for i, a in enumerate(values):
                for b in values[i + 1 :]:
                    stats = compare_sides(
                        group, {axis: a}, {axis: b}, protocol=protocol, resamples=resamples
                    )
                    row = {"protocol": protocol, "axis": axis, "a": a, "b": b, **stats}
                    if row["p_better"] < 0.5 or (row["p_better"] == 0.5 and row["diff"] > 0):
                        row = {**flipped(row), "a": b, "b": a}
                    row["verdict"] = verdict(row, row["a"], row["b"])
                    rows.append(row)
        if rows:
            tables.append(family_wise(pd.DataFrame(rows)))
    if not tables:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    return pd.concat(tables, ignore_index=True)[COMPARISON_COLUMNS]
