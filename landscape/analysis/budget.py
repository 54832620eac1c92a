"""Compute vs quality: the best FID a practitioner has after training k settings (PAPER.md 8).

The practitioner first trains the fixed good settings (origin kind grid, target or manual) in
a random order, then the search proposals in trial order (the trial number of their origin,
landscape.records.Origin; trials of several search cells interleave: every cell's trial 0,
then every cell's trial 1, ...). A setting's FID is its median over seeds (settings.py). The
process is repeated ``draws`` times (1000, as in the paper) with a seeded generator; the curve
is the mean, over draws, of the minimum FID among the first k settings, with the quartiles as a
band.

Only the order of the grid settings is random, and drawing it is sampling without
replacement, so over the grid part the mean has a closed form (expected_min_without_replacement);
the tests check the simulation against it.

Compute as the currency: each curve row also carries the mean compute spent after k settings
(COMPUTE: D steps, FLOPs and device-hours, summed over a setting's seeds), so searches with and
without a pruner compare on one axis. Over the grid part that mean is k times the grid settings'
mean compute (the sum of k of n drawn without replacement); then the search's compute adds up in
trial order. A pruned search trial (records.Status.PRUNED, ``with_pruned``) is a search row that
spends its compute but offers no FID: it is not a finished setting (its FID is that of a partly
trained generator), so it is never the best found, and the top-5% and comparisons leave it out.
"""

from __future__ import annotations

from math import comb

import numpy as np
import pandas as pd

from landscape.analysis.settings import SEARCH, with_origins
from landscape.records import Status

DRAWS = 1000  # PAPER.md 8: "repeat this random process 1000 times"
# compute spent, summed over a setting's seeds: D steps, FLOPs (training + evaluations, as the
# worker recorded them in status.json) and device-hours (the runs' own clocks)
COMPUTE = ("d_steps", "flops", "device_hours")
BUDGET_COLUMNS = [
    "protocol",
    "axis",
    "value",
    "k",
    "mean",
    "low",
    "high",
    "n_grid",
    "n_pruned",
    *COMPUTE,
]


def min_so_far(
    grid: np.ndarray, search: np.ndarray, draws: int, rng: np.random.Generator
) -> np.ndarray:
    """(draws, K) array: the minimum FID after k = 1..K settings in each simulated order."""
    grid = np.asarray(grid, dtype=float)
    order = rng.random((draws, grid.size)).argsort(axis=1)
    tail = np.broadcast_to(np.asarray(search, dtype=float), (draws, np.size(search)))
    return np.minimum.accumulate(np.concatenate([grid[order], tail], axis=1), axis=1)


def expected_min_without_replacement(values: np.ndarray, k: int) -> float:
    """E[min of k values drawn without replacement from ``values``]: the i-th smallest of n
    is the minimum with probability C(n-i, k-1) / C(n, k)."""
    x = np.sort(np.asarray(values, dtype=float))
    n = x.size
    if not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n}, got {k}")
    weights = np.array([comb(n - i, k - 1) for i in range(1, n + 1)], dtype=float) / comb(n, k)
    return float(np.sum(x[weights > 0] * weights[weights > 0]))


def budget_curve(
    settings: pd.DataFrame,
    *,
    draws: int = DRAWS,
    rng: np.random.Generator | None = None,
    quantiles: tuple[float, float] = (0.25, 0.75),
) -> pd.DataFrame:
    """One group's curve: columns k, mean, low, high, n_grid (settings from seed_medians):
    the first n_grid settings are the fixed ones (random order), the rest search trials."""
    rng = rng if rng is not None else np.random.default_rng(0)
    is_grid = settings["origin"].ne(SEARCH).to_numpy()
    grid = settings["fid_median"].to_numpy(dtype=float)[is_grid]
    order = [c for c in ("trial", "origin_name", "setting") if c in settings]
    search = settings[~is_grid].sort_values(order, na_position="last", kind="stable")
    runs = min_so_far(grid, search["fid_median"].to_numpy(dtype=float), draws, rng)
    ordered = np.sort(runs, axis=0)  # no interpolation: quantiles stay exact with inf present
    low = ordered[int(np.floor(quantiles[0] * (draws - 1)))]
    high = ordered[int(np.ceil(quantiles[1] * (draws - 1)))]
    with np.errstate(invalid="ignore"):
        mean = runs.mean(axis=0)
    k = np.arange(1, runs.shape[1] + 1)
    n_pruned = search["pruned"].fillna(False).astype(bool).sum() if "pruned" in search else 0
    spent = {c: compute_spent(settings, is_grid, search, c) for c in COMPUTE}
    table = {"k": k, "mean": mean, "low": low, "high": high, "n_grid": grid.size}
    return pd.DataFrame({**table, "n_pruned": int(n_pruned), **spent})


def compute_spent(
    settings: pd.DataFrame, is_grid: np.ndarray, search: pd.DataFrame, column: str
) -> np.ndarray:
    """The mean ``column`` spent after k settings: k times the grid's mean over its part (the
    expected sum of k of them drawn without replacement), then the search's in trial order.
    NaN where a setting's compute is unknown (older runs recorded no FLOPs)."""
    if column not in settings:
        return np.full(len(settings), np.nan)
    grid = settings[column].to_numpy(dtype=float)[is_grid]
    head = np.arange(1, grid.size + 1) * (grid.mean() if grid.size else 0.0)
    tail = search[column].to_numpy(dtype=float).cumsum() + (head[-1] if grid.size else 0.0)
    return np.concatenate([head, tail])


def setting_compute(runs: pd.DataFrame) -> pd.DataFrame:
    """COMPUTE per setting (index), summed over its runs: steps_trained, flops and wall_time
    (in hours) of runs.csv. Unstarted runs spent nothing; a missing FLOP count stays NaN."""
    spent = pd.DataFrame(
        {
            "setting": runs["setting"],
            "d_steps": pd.to_numeric(runs["steps_trained"], errors="coerce").fillna(0),
            "flops": pd.to_numeric(runs["flops"], errors="coerce") if "flops" in runs else np.nan,
            "device_hours": pd.to_numeric(runs["wall_time"], errors="coerce").fillna(0) / 3600,
        }
    )
    return spent.groupby("setting", sort=False).sum(min_count=1)


def with_pruned(settings: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """``settings`` (seed_medians' rows) with their COMPUTE, plus one row per pruned search
    run: origin search, its trial, ``fid_median`` +inf (no FID offered) and ``pruned`` True."""
    spent = setting_compute(runs)
    out = settings.drop(columns=[c for c in COMPUTE if c in settings]).join(spent, on="setting")
    cut = with_origins(runs[runs["status"].eq(Status.PRUNED.value)])
    if cut.empty:
        return out.assign(pruned=False)
    keep = [c for c in out.columns if c in cut and c not in (*COMPUTE, "origin")]
    rows = cut[keep].join(spent, on="setting").assign(origin=SEARCH, fid_median=np.inf, pruned=True)
    return pd.concat([out.assign(pruned=False), rows], ignore_index=True)


def budget_curves(
    settings: pd.DataFrame,
    by: str,
    *,
    draws: int = DRAWS,
    seed: int = 0,
    runs: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """budget_curve for each (protocol, ``by`` value), stacked, with those two columns first.
    With ``runs`` (the runs of ``settings``), the curves carry the compute spent, pruned search
    trials included (``with_pruned``)."""
    rng = np.random.default_rng(seed)
    if runs is not None:
        settings = with_pruned(settings, runs)
    parts = []
    for (protocol, value), group in settings.groupby(["protocol", by], sort=True):
        curve = budget_curve(group, draws=draws, rng=rng)
        parts.append(curve.assign(protocol=protocol, value=str(value), axis=by))
    if not parts:
        return pd.DataFrame(columns=BUDGET_COLUMNS)
    curves = pd.concat(parts, ignore_index=True)
    return curves[BUDGET_COLUMNS]
