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
"""

from __future__ import annotations

from math import comb

import numpy as np
import pandas as pd

from landscape.analysis.settings import SEARCH

DRAWS = 1000  # PAPER.md 8: "repeat this random process 1000 times"
BUDGET_COLUMNS = ["protocol", "axis", "value", "k", "mean", "low", "high", "n_grid"]


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
    return pd.DataFrame({"k": k, "mean": mean, "low": low, "high": high, "n_grid": grid.size})


def budget_curves(
    settings: pd.DataFrame, by: str, *, draws: int = DRAWS, seed: int = 0
) -> pd.DataFrame:
    """budget_curve for each (protocol, ``by`` value), stacked, with those two columns first."""
    rng = np.random.default_rng(seed)
    parts = []
    for (protocol, value), group in settings.groupby(["protocol", by], sort=True):
        curve = budget_curve(group, draws=draws, rng=rng)
        parts.append(curve.assign(protocol=protocol, value=str(value), axis=by))
    if not parts:
        return pd.DataFrame(columns=BUDGET_COLUMNS)
    curves = pd.concat(parts, ignore_index=True)
    return curves[BUDGET_COLUMNS]
