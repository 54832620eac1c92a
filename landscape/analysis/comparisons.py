"""comparisons.csv: every pair of values of each compared axis, on matched settings, with the
bootstrap intervals and verdict of matched.py; and the one bootstrap a claim shares with the
comparison of the same two sides (findings.py)."""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import pandas as pd

from landscape.analysis.matched import RESAMPLES, compare, matchable, matched_samples, verdict


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
]


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
    median number of seeds per side in a matched setting."""
    rows = []
    for protocol, group in matchable(runs).groupby("protocol", sort=True):
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
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
