"""Aggregations on small hand-made frames with known answers."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from landscape.analysis import (
    budget_curve,
    budget_curves,
    expected_min_without_replacement,
    leaderboard,
    min_so_far,
    seed_curves,
    seed_medians,
    top_count,
    top_fraction,
)

P = "proto"


def runs_frame(rows: list[tuple]) -> pd.DataFrame:
    """rows of (normalization, setting, origin, status, fid[, is_mean])."""
    frame = pd.DataFrame(
        [(*r, 5.0)[:6] for r in rows],
        columns=["normalization", "setting", "origin", "status", "fid", "is_mean"],
    )
    frame["run_id"] = [f"r{i:03d}" for i in range(len(frame))]
    frame["protocol"] = P
    frame["loss"] = "ns"
    return frame


@pytest.mark.parametrize(("n", "k"), [(1, 1), (19, 1), (20, 1), (21, 2), (60, 3), (100, 5)])
def test_top_count_is_ceil_of_five_percent_at_least_one(n, k):
    assert top_count(n) == k


def test_top_fraction_keeps_the_best_five_percent_per_value():
    rows = [("sn", f"s{i}", "grid:x", "ok", 100.0 - i) for i in range(40)]  # best: 61, 62
    rows += [("none", f"t{i}", "grid:x", "ok", 50.0 + i) for i in range(20)]  # best: 50
    rows += [("sn", "d", "grid:x", "diverged", 1.0)]  # diverged: keeps its FID 1.0, the best
    rows += [("sn", "e", "grid:x", "diverged", np.nan)]  # no finite FID: +inf
    rows += [("sn", "f", "grid:x", "failed", 0.5)]  # failed: +inf whatever it reached
    rows += [("sn", "r", "grid:x", "running", 0.5)]  # unfinished: not counted
    top = top_fraction(runs_frame(rows), "normalization")  # sn: 43 finished -> ceil(2.15) = 3
    assert top.groupby("normalization")["effective"].apply(list).to_dict() == {
        "none": [50.0],
        "sn": [1.0, 61.0, 62.0],
    }
    assert top["rank"].tolist() == [1, 1, 2, 3]
    best_sn = top[top["normalization"].eq("sn") & top["rank"].eq(1)].iloc[0]
    assert (best_sn.setting, best_sn.status) == ("d", "diverged")


def test_diverged_runs_keep_their_best_fid_and_unscored_runs_are_selected_last():
    rows = [("bn", "a", "grid:x", "diverged", 20.0), ("bn", "b", "grid:x", "failed", 5.0)]
    rows += [("ln", "c", "grid:x", "diverged", 10.0), ("ln", "d", "grid:x", "ok", 90.0)]
    rows += [("gn", "e", "grid:x", "diverged", np.nan), ("gn", "f", "grid:x", "ok", 90.0)]
    rows += [("wn", "g", "grid:x", "diverged", np.nan), ("wn", "h", "grid:x", "failed", np.nan)]
    top = top_fraction(runs_frame(rows), "normalization").set_index("normalization")
    # bn: the diverged run's 20 beats a failed run's 5 (failed is +inf); ln: a diverged run's
    # 10 beats an ok run's 90; gn: a diverged run with no finite FID is +inf, so the ok run
    # wins; wn: nothing is finite, so the +inf runs are kept (tie broken by run_id)
    assert top["run_id"].to_dict() == {"bn": "r000", "ln": "r002", "gn": "r005", "wn": "r006"}
    assert top["effective"].to_dict() == {"bn": 20.0, "ln": 10.0, "gn": 90.0, "wn": math.inf}


def test_seed_medians_spread_and_divergence_rates():
    rows = [("sn", "a", "grid:x", "ok", f, i) for f, i in ((30.0, 6), (10.0, 8), (20.0, 7))]
    rows += [("sn", "a", "grid:x", "ok", 40.0, 5)]
    rows += [("sn", "a", "grid:x", "diverged", 5.0, 9)]  # 5 seeds: 5, 10, 20, 30, 40
    rows += [("sn", "b", "search:c:7", "ok", 50.0), ("sn", "b", "search:c:3", "diverged", np.nan)]
    rows += [("sn", "b", "search:c:9", "failed", 1.0, 9)]  # 50, inf (no FID), inf (failed)
    rows += [("sn", "c", "grid:y", "running", 1.0)]  # unfinished: no setting row yet
    table = seed_medians(runs_frame(rows)).set_index("setting")
    assert list(table.index) == ["a", "b"]
    a, b = table.loc["a"], table.loc["b"]
    assert (a.n_seeds, a.n_diverged, a.n_failed, a.divergence_rate) == (5, 1, 0, 0.2)
    assert (a.fid_median, a.fid_q25, a.fid_q75, a.fid_min, a.fid_max) == (20, 10, 30, 5, 40)
    assert (b.n_seeds, b.n_diverged, b.n_failed) == (3, 1, 1)
    assert b.divergence_rate == pytest.approx(1 / 3)
    assert (b.fid_median, b.fid_min, b.fid_max) == (math.inf, 50, math.inf)
    assert (a.origin, b.origin, b.trial) == ("grid", "search", 3)
    assert a.is_median == 7.0  # over 6, 8, 7, 5 and the diverged seed's 9
    assert b.is_median == 5.0  # the failed seed's 9 does not count


def test_leaderboard_ranks_settings_within_each_variant():
    rows = [("sn", "a", "grid:x", "ok", f) for f in (30.0, 32.0)]
    rows += [("sn", "b", "grid:y", "ok", f) for f in (20.0, 60.0)]  # median 40
    rows += [("none", "c", "grid:x", "ok", 25.0), ("none", "c", "grid:x", "diverged", 1.0)]
    rows += [("bn", "d", "grid:x", "ok", 2.0), ("bn", "d", "grid:x", "diverged", np.nan)]
    board = leaderboard(runs_frame(rows))
    # none (median of 25 and the diverged seed's 1: 13) before sn (31) before bn (2 and inf)
    assert board["setting"].tolist() == ["c", "a", "b", "d"]
    assert board["fid_median"].tolist() == [13.0, 31.0, 40.0, math.inf]
    assert board["rank"].tolist() == [1, 1, 2, 1]
    assert board["best"].tolist() == [True, True, False, True]
    assert board["variant_divergence_rate"].tolist() == [0.5, 0.0, 0.0, 0.5]


def brute_force_expected_min(values: list[float], k: int) -> float:
    orders = list(itertools.permutations(values))
    return sum(min(order[:k]) for order in orders) / len(orders)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_closed_form_expected_minimum_matches_enumeration(k):
    values = [7.0, 3.0, 9.0, 3.0, 12.0]
    assert expected_min_without_replacement(values, k) == pytest.approx(
        brute_force_expected_min(values, k), rel=1e-12
    )
    assert expected_min_without_replacement([1.0, 2.0, 3.0], 2) == pytest.approx(4 / 3)


def test_simulated_budget_curve_matches_the_closed_form_for_grid_only_settings():
    rng = np.random.default_rng(1)
    values = rng.uniform(20, 200, size=24)
    settings = pd.DataFrame(
        {
            "setting": [f"s{i}" for i in range(24)],
            "origin": "grid",
            "trial": np.nan,
            "fid_median": values,
        }
    )
    curve = budget_curve(settings, draws=4000, rng=np.random.default_rng(0))
    runs = min_so_far(values, np.array([]), 4000, np.random.default_rng(0))
    for k in (1, 2, 3, 6, 12, 24):
        exact = expected_min_without_replacement(values, k)
        stderr = runs[:, k - 1].std() / np.sqrt(4000)
        assert abs(curve["mean"].iloc[k - 1] - exact) <= 4 * stderr + 1e-9
    assert curve["mean"].iloc[-1] == pytest.approx(values.min())
    assert (curve["low"] <= curve["high"]).all() and curve["mean"].is_monotonic_decreasing


def test_search_proposals_come_after_the_grid_in_trial_order():
    settings = pd.DataFrame(
        {
            "setting": ["g1", "g2", "t3", "t1", "t2"],
            "origin": ["grid", "grid", "search", "search", "search"],
            "trial": [np.nan, np.nan, 3, 1, 2],
            "fid_median": [50.0, 60.0, 40.0, 70.0, 45.0],
        }
    )
    curve = budget_curve(settings, draws=1000)
    assert curve["mean"].iloc[0] == pytest.approx(55.0, abs=1.5)  # a random grid setting first
    assert curve["mean"].tolist()[1:] == [50.0, 50.0, 45.0, 40.0]  # then trials 1, 2, 3
    assert (curve["n_grid"] == 2).all()


def test_budget_curves_one_curve_per_value_and_inf_when_all_diverged():
    settings = pd.DataFrame(
        {
            "protocol": P,
            "normalization": ["sn", "sn", "none", "none"],
            "setting": ["a", "b", "c", "d"],
            "origin": "grid",
            "trial": np.nan,
            "fid_median": [30.0, 40.0, math.inf, 80.0],
        }
    )
    curves = budget_curves(settings, "normalization", draws=200, seed=3)
    none = curves[curves["value"] == "none"]
    assert none["mean"].iloc[0] == math.inf and none["mean"].iloc[1] == 80.0
    assert curves[curves["value"] == "sn"]["mean"].iloc[1] == 30.0
    assert set(curves["axis"]) == {"normalization"}


def test_seed_curves_median_and_range_over_seeds():
    runs = pd.DataFrame({"run_id": ["a", "b", "c"], "setting": ["s", "s", "s"]})
    evals = pd.DataFrame(
        {
            "run_id": ["a", "b", "c", "a", "b", "c"],
            "step": [0, 0, 0, 100, 100, 100],
            "fid": [300.0, 310.0, 320.0, 40.0, np.nan, 50.0],
            "is_mean": [1.0, 1.0, 1.0, 6.0, np.nan, 7.0],
        }
    )
    curves = seed_curves(runs, evals, ["s"]).set_index("step")
    assert curves.loc[0, ["fid_median", "fid_min", "fid_max", "n"]].tolist() == [310, 300, 320, 3]
    assert curves.loc[100, ["fid_median", "is_mean_median", "n"]].tolist() == [45, 6.5, 2]
