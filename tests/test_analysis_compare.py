"""Comparisons with intervals, top 5% of settings and budget order, on hand-made numbers with
known answers (the real planner's origins are tested in test_analysis_planned.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu

from landscape.analysis import (
    Samples,
    axis_comparisons,
    budget_curve,
    compare,
    leaderboard,
    matched_samples,
    seed_medians,
    top_runs,
    top_settings,
    variant_summary,
)
from landscape.analysis.comparisons import FAMILY_ALPHA, family_wise, holm
from landscape.analysis.matched import bootstrap_p
from landscape.errors import UserError
from landscape.records import Origin


def one(a, b) -> Samples:
    return Samples(np.array([a], dtype=float), np.array([b], dtype=float))


def test_probability_of_improvement_separated_identical_and_mann_whitney():
    assert compare(one([1, 2, 3], [4, 5, 6, 7]))["p_better"] == 1.0
    assert compare(one([4, 5, 6, 7], [1, 2, 3]))["p_better"] == 0.0
    same = compare(one([3, 1, 2, 2], [3, 1, 2, 2]))
    assert same["p_better"] == 0.5 and same["diff"] == 0.0
    assert same["p_low"] < 0.5 < same["p_high"]  # one setting: its seeds are resampled
    rng = np.random.default_rng(4)
    a, b = rng.normal(0, 1, 6).round(1), rng.normal(0.4, 1, 5).round(1)
    b[0] = a[2]  # a tie counts one half, as in U
    u = mannwhitneyu(b, a).statistic  # pairs where b > a, plus half the ties
    assert compare(one(a, b))["p_better"] == pytest.approx(u / (6 * 5), abs=1e-12)


def test_failed_runs_lose_to_any_finite_score_and_tie_with_each_other():
    inf = math.inf
    result = compare(one([10.0, inf], [20.0, inf]))
    # pairs: 10<20 win, 10<inf win, inf>20 loss, inf=inf tie -> 2.5 / 4
    assert result["p_better"] == pytest.approx(2.5 / 4)
    assert result["diff"] == 0.0  # both medians are inf: a tie, not NaN
    assert compare(one([inf, inf], [5.0, 6.0]))["diff"] == inf


def test_the_estimates_are_medians_over_matched_settings_of_seed_medians():
    a = np.array([[1.0, 3.0, np.nan], [10.0, 10.0, 10.0], [0.0, 0.0, 0.0]])
    b = np.array([[4.0, 6.0, np.nan], [12.0, 13.0, 20.0], [9.0, 9.0, 9.0]])
    result = compare(Samples(a, b))
    assert result["diff"] == -3.0  # settings: 2 - 5, 10 - 13, 0 - 9
    assert result["p_better"] == 1.0 and (result["runs_a"], result["runs_b"]) == (8, 8)
    again = compare(Samples(a, b))
    assert again == result  # seeded: the same runs give the same report


def test_bootstrap_interval_covers_the_true_difference():
    """Settings with their own level (shared by both sides), seeds around it, b worse by 1.5:
    the 95% interval of the median difference covers -1.5 in 90-99% of 200 studies. (Also
    resampling the seeds within settings made it 100%: seed noise counted twice.)"""
    rng = np.random.default_rng(11)
    covered = 0
    for r in range(200):
        level = rng.normal(60, 8, (10, 1))
        a = level + rng.normal(0, 2, (10, 5))
        b = level + 1.5 + rng.normal(0, 2, (10, 5))
        result = compare(Samples(a, b), resamples=600, seed=r)
        covered += result["diff_low"] <= -1.5 <= result["diff_high"]
    assert 0.90 <= covered / 200 <= 0.99


def runs(rows) -> pd.DataFrame:
    """rows of (loss, penalty, origin, seed, status, fid)."""
    frame = pd.DataFrame(rows, columns=["loss", "penalty", "origin", "seed", "status", "fid"])
    frame["run_id"] = [f"r{i}" for i in range(len(frame))]
    frame["protocol"] = "p"
    frame["setting"] = frame["origin"] + frame["loss"] + frame["penalty"]
    frame["is_mean"] = 1.0
    return frame


def test_matching_is_by_setting_name_and_other_axes_and_leaves_search_out():
    g1, g2, s = str(Origin.grid("hp-01")), str(Origin.grid("hp-02")), "search:cell:0"
    rows = [
        (loss, pen, g1, seed, "ok", f)
        for loss, pen, f in (
            ("ns", "gp", 10.0),
            ("ns", "none", 20.0),
            ("wgan", "gp", 30.0),
            ("wgan", "none", 31.0),
        )
        for seed in (0, 1)
    ]
    rows += [("ns", "gp", g2, 0, "ok", 11.0)]  # hp-02 has no none partner: not matched
    rows += [("ns", "none", s, 0, "ok", 1.0)]  # a search trial: never matched
    rows += [("ns", "none", g1, 2, "running", 1.0)]  # unfinished: not counted
    samples = matched_samples(runs(rows), {"penalty": "gp"}, {"penalty": "none"})
    assert samples.pairs == 2 and samples.runs() == (4, 4)
    assert np.sort(samples.a, axis=None).tolist() == [10.0, 10.0, 30.0, 30.0]
    table = axis_comparisons(runs(rows), ["penalty"], resamples=200).iloc[0]
    assert (table.a, table.b, table["diff"], table.p_better) == ("gp", "none", -5.5, 1.0)
    assert table.verdict == "no clear difference"  # 4 runs a side: too few for a verdict


def test_top_five_percent_pools_settings_by_seed_median():
    # setting "lucky": one seed at 1.0 but median 100; "steady": median 20; 38 more settings
    rows = [("ns", "none", "grid:lucky", s, "ok", f) for s, f in enumerate((1.0, 100.0, 100.0))]
    rows += [("ns", "none", "grid:steady", s, "ok", 20.0) for s in range(3)]
    rows += [("ns", "none", f"grid:g{i}", 0, "ok", 50.0 + i) for i in range(38)]
    rows += [
        ("ns", "none", "search:c:0", 0, "ok", 30.0),
        ("ns", "none", "search:c:1", 0, "ok", 25.0),
    ]
    board = seed_medians(runs(rows))
    top = top_settings(board, "loss")  # 42 settings: ceil(2.1) = 3
    assert top["setting"].tolist() == ["grid:steadynsnone", "search:c:1nsnone", "search:c:0nsnone"]
    assert top["fid"].tolist() == [20.0, 25.0, 30.0] and top["rank"].tolist() == [1, 2, 3]
    assert (top["n_units"] == 42).all()
    # the per-run view (not the paper's) lets the lucky seed win
    assert top_runs(runs(rows), "loss")["effective"].iloc[0] == 1.0


def test_budget_curve_orders_search_trials_by_number_across_cells():
    rows = [("ns", "none", "grid:a", 0, "ok", 50.0), ("ns", "none", "grid:b", 0, "ok", 60.0)]
    rows += [("ns", "none", str(Origin.search("x", 1)), 0, "ok", 30.0)]
    rows += [("ns", "none", str(Origin.search("y", 0)), 0, "ok", 45.0)]
    rows += [("ns", "none", str(Origin.search("x", 0)), 0, "ok", 40.0)]
    board = seed_medians(runs(rows))
    curve = budget_curve(board, draws=500)
    # grid first (random order), then x:0 (40), y:0 (45), x:1 (30)
    assert curve["mean"].tolist()[1:] == [50.0, 40.0, 40.0, 30.0]
    assert curve["mean"].iloc[0] == pytest.approx(55.0, abs=2.5)


def test_holm_on_a_hand_computed_family():
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> max 0.06
    p = [0.01, np.nan, 0.04, 0.03, 0.005]  # NaN: not in the family (m = 4)
    assert np.allclose(holm(p), [0.03, np.nan, 0.06, 0.06, 0.02], equal_nan=True)
    assert holm([0.5, 0.6]).tolist() == [1.0, 1.0]  # capped at 1, never decreasing
    assert holm([0.2]).tolist() == [0.2] and np.isnan(holm([np.nan])).all()


def test_holm_agrees_with_statsmodels():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    p = np.random.default_rng(3).uniform(0, 0.2, 12)
    reject, adjusted, _, _ = multitest.multipletests(p, alpha=0.05, method="holm")
    assert np.allclose(holm(p), adjusted, atol=1e-12)
    assert ((holm(p) <= 0.05) == reject).all()


def test_bootstrap_p_counts_the_far_side_of_one_half():
    # two of five resamples at or below 1/2 (the far side), four at or above: k = 2
    assert bootstrap_p(np.array([0.4, 0.5, 0.6, 0.7, 0.8])) == min(1.0, 2 * 3 / 6)
    assert bootstrap_p(np.array([0.3] + [0.7] * 99)) == pytest.approx(2 * 2 / 101)
    assert bootstrap_p(np.full(2000, 0.9)) == pytest.approx(2 / 2001)  # never 0


def test_a_bootstrap_p_under_005_is_an_interval_clear_of_one_half():
    """With 2000 resamples at 95%, p < 0.05 exactly when the interval excludes 1/2: one rule,
    read two ways. Settings with a true effect of each size, 1 to 12 of them."""
    rng = np.random.default_rng(5)
    agree = 0
    for r in range(60):
        s = int(rng.integers(1, 13))
        a = rng.normal(0, 1, (s, 3))
        b = rng.normal(rng.uniform(-1.5, 1.5), 1, (s, 3))
        result = compare(Samples(a, b), seed=r)
        clear = result["p_low"] > 0.5 or result["p_high"] < 0.5
        agree += (result["p"] < 0.05) == clear
    assert agree == 60


def test_the_family_is_each_protocols_rows_with_enough_runs():
    rows = pd.DataFrame(
        {
            "p": [0.01, 0.02, 0.001, 0.04],
            "runs_a": [6, 6, 3, 6],  # the third has too few runs for a verdict: left out
            "runs_b": [6, 6, 6, 6],
        }
    )
    out = family_wise(rows)
    assert np.allclose(out["p_holm"], [0.03, 0.04, np.nan, 0.04], equal_nan=True)
    assert out["significant"].tolist() == [True, True, False, True]
    assert FAMILY_ALPHA == 0.05


def test_replicated_settings_rank_first_and_one_seed_rows_are_marked():
    # a one-seed search trial at 30 and a three-seed grid setting at median 40; a grid setting
    # whose two seeds failed (median inf) ranks last either way
    rows = [("ns", "none", "search:c:0", 0, "ok", 30.0)]
    rows += [("ns", "none", "grid:a", s, "ok", f) for s, f in enumerate((35.0, 40.0, 45.0))]
    rows += [("ns", "none", "grid:b", s, "failed", np.nan) for s in range(2)]
    board = leaderboard(runs(rows))  # the default: min_seeds 2
    assert board["setting"].tolist() == ["grid:ansnone", "search:c:0nsnone", "grid:bnsnone"]
    assert board["n_seeds"].tolist() == [3, 1, 2] and board["best"].tolist() == [1, 0, 0]
    plain = leaderboard(runs(rows), min_seeds=1)  # by median alone: the one lucky trial wins
    assert plain["setting"].tolist() == ["search:c:0nsnone", "grid:ansnone", "grid:bnsnone"]
    summary = variant_summary(runs(rows), board)
    assert (summary["fid_median"].iloc[0], summary["best_n_seeds"].iloc[0]) == (40.0, 3)
    assert summary["best_run_fid"].iloc[0] == 30.0  # the best single run is still shown
    only_one = leaderboard(runs(rows[:1]))  # no replicated setting: the one-seed one is best
    assert only_one["best"].tolist() == [True]
    for bad in (0, -1, 1.5, True):
        with pytest.raises(UserError, match="--min-seeds: expected a whole number"):
            leaderboard(runs(rows), min_seeds=bad)
