"""The analysis of a study planned by the real planner (tests/planned_results.py): the quickstart's
grid runs and search trials, with made-up scores from a known model. Origins round-trip with
their trial numbers, budget curves follow the trial order, comparisons match settings by name
(penalty none trains with lambda 0.0, gp with 1.0: still one setting), failed and diverged
runs enter the comparisons, and the study file's claims get their verdicts."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from planned_results import planned_study

from landscape.analysis import budget_curves, leaderboard, load_results
from landscape.records import Status
from landscape.report import write_report
from landscape.study.plan import search_cells

QUICKSTART = Path(__file__).resolve().parents[1] / "studies" / "quickstart.yaml"
TRIALS = 4
LOSS = {"ns": 0.0, "wgan": 2.0, "hinge": 1.0}
FAILED = {"loss": "hinge", "penalty": "gp", "normalization": "none", "seed": 1}
DIVERGED = {"loss": "wgan", "penalty": "none", "normalization": "sn", "seed": 0}


def score(spec) -> tuple[str, float]:
    """Grid: 50 + loss + 5 without a penalty + 4 with SN (SN made worse on purpose, so the
    paper's F2 is contradicted here) + the seed; search trial n: 40 - 5 n (better than all)."""
    if spec.origin.startswith("search"):
        return Status.OK, 40.0 - 5.0 * int(spec.origin.rsplit(":", 1)[1])
    fid = 50.0 + LOSS[spec.loss] + 5.0 * (spec.penalty == "none")
    fid += 4.0 * (spec.normalization == "sn") + spec.seed
    for status, where in ((Status.FAILED, FAILED), (Status.DIVERGED, DIVERGED)):
        if all(getattr(spec, k) == v for k, v in where.items()):
            return status, fid
    return Status.OK, fid


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    root = tmp_path_factory.mktemp("planned") / "quickstart"
    study, specs = planned_study(QUICKSTART, root, score, trials=TRIALS)
    write_report(root, draws=200)
    return root, study, specs


def test_search_origins_round_trip_with_their_trial_numbers(planned):
    root, study, specs = planned
    runs = load_results(root).runs
    (cell,) = search_cells(study)
    search = runs[runs["origin_kind"] == "search"]
    assert len(runs) == 24 + TRIALS and len(search) == TRIALS
    assert set(search["origin_name"]) == {cell.key}
    assert sorted(search["trial"]) == list(range(TRIALS))
    grid = runs[runs["origin_kind"] == "grid"]
    assert set(grid["origin_name"]) == {"hp-01"} and grid["trial"].isna().all()
    board = pd.read_csv(root / "leaderboard.csv")
    assert sorted(board.loc[board["origin"] == "search", "trial"]) == list(range(TRIALS))


def test_budget_curve_takes_search_trials_in_trial_order(planned):
    root, _, _ = planned
    board = leaderboard(load_results(root).runs)
    curves = budget_curves(board, "loss", draws=200)
    for value, curve in curves.groupby("value"):
        settings = board[board["loss"] == value]
        n_grid = int((settings["origin"] == "grid").sum())
        trials = sorted(settings.loc[settings["origin"] == "search", "trial"])
        assert n_grid == 4 and (curve["n_grid"] == n_grid).all()
        expected = np.minimum.accumulate([40.0 - 5.0 * t for t in trials])  # all beat the grid
        assert curve["mean"].to_numpy()[n_grid:].tolist() == expected.tolist()
        assert (
            curve["mean"].iloc[n_grid - 1]
            == settings["fid_median"][settings["origin"] == "grid"].min()
        )
    written = pd.read_csv(root / "budget.csv")
    assert set(written["axis"]) >= {"loss", "penalty", "normalization"}


def test_comparisons_match_settings_by_name_and_keep_failed_and_diverged_runs(planned):
    root, _, specs = planned
    weights = {s.penalty: s.penalty_weight for s in specs if s.origin == "grid:hp-01"}
    assert weights == {"none": 0.0, "gp": 1.0}  # different values, one setting of the study
    table = pd.read_csv(root / "comparisons.csv").set_index(["axis", "a", "b"])
    gp = table.loc[("penalty", "gp", "none")]
    # 3 losses x 2 normalizations matched, 2 seeds a side, all 24 grid runs counted: the failed
    # gp run (+inf) and the diverged none run (its best finite FID) included, search left out
    assert (gp.pairs, gp.seeds, gp.runs_a + gp.runs_b) == (6, 2, 24)
    # per setting 5 apart, except hinge/none whose gp side has median inf (the failed seed)
    assert gp["diff"] == -5.0
    # every gp seed beats every none seed, except the failed one: 2 of 4 pairs in that setting
    assert gp["p_better"] == pytest.approx((5 * 1.0 + 0.5) / 6)
    # one failed seed makes that setting's median inf: the difference's interval reaches inf,
    # the probability (which decides) counts it as lost pairs and stays clear of 1/2
    assert gp["diff_high"] == math.inf and gp["p_low"] > 0.5 and gp["verdict"] == "gp better"
    loss = table.loc[("loss", "ns", "wgan")]
    assert loss["pairs"] == 4 and loss["verdict"] in ("ns better", "no clear difference")


def test_claims_of_the_study_copy_get_verdicts(planned):
    root, study, _ = planned
    findings = pd.read_csv(root / "findings.csv").set_index("id")
    assert list(findings.index) == [c.id for c in study.claims] == ["F2", "F3", "F6"]
    assert findings.loc["F2", "verdict"] == "contradicted"  # SN made 4 worse in this model
    assert findings.loc["F3", "verdict"] == "consistent"
    f6 = findings.loc["F6"]  # gp+sn vs none+sn: 3 losses matched, normalization held at sn
    assert (f6.verdict, f6.pairs, f6.runs_better, f6.runs_than) == ("consistent", 3, 6, 6)
    assert f6["diff"] == -5.0 and f6["source"].startswith("3.2")
    html = (root / "report.html").read_text()
    assert '<section id="findings">' in html and "contradicted" in html
    assert math.isfinite(findings.loc["F3", "diff_low"])
    # a claim and the comparison of the same two sides report the same numbers
    gp = (
        pd.read_csv(root / "comparisons.csv")
        .set_index(["axis", "a", "b"])
        .loc[("penalty", "gp", "none")]
    )
    columns = ["diff", "diff_low", "diff_high", "p_better", "p_low", "p_high"]
    assert findings.loc["F3", columns].tolist() == gp[columns].tolist()


LAMBDAS = """
name: lambdas
dataset: digits
budget: {steps: 4, eval_every: 2, batch_size: 8}
model: {width: 0.0625, z_dim: 16}
grid: {loss: [ns], penalty: [none, gp], normalization: [none, sn], architecture: [sndcgan]}
hyperparameters:   # two settings that differ only in lambda, as half of Table 1's do
  - {lr: 0.0002, beta1: 0.5, beta2: 0.999, n_disc: 1, penalty_weight: 1}
  - {lr: 0.0002, beta1: 0.5, beta2: 0.999, n_disc: 1, penalty_weight: 10}
seeds: [0, 1, 2]
"""


def test_a_penalty_none_run_matches_the_gp_runs_of_every_lambda_it_stands_for(tmp_path):
    from landscape.analysis import axis_comparisons

    path = tmp_path / "lambdas.yaml"
    path.write_text(LAMBDAS)

    def by_lambda(spec) -> tuple[str, float]:  # gp: 10 at lambda 1, 30 at lambda 10; none 20
        base = {0.0: 20.0, 1.0: 10.0, 10.0: 30.0}[spec.penalty_weight]
        return Status.OK, base + spec.seed

    _, specs = planned_study(path, tmp_path / "results" / "lambdas", by_lambda, trials=0)
    assert sum(s.penalty == "none" for s in specs) == 2 * 3  # one run per norm and seed
    runs = load_results(tmp_path / "results" / "lambdas").runs
    rows = axis_comparisons(runs, ["penalty", "normalization"], resamples=200)
    penalty = rows[rows["axis"] == "penalty"]
    # each gp setting (lambda 1 and lambda 10), per normalization, against the none runs
    assert penalty["pairs"].tolist() == [4] and penalty["runs_a"].tolist() == [4 * 3]
    # settings: lambda 1 wins by 10 on its seeds, lambda 10 loses by 10: median of -10, -10,
    # +10, +10 (written with the likelier winner as a; a tie at 1/2 puts the lower diff first)
    assert abs(penalty["diff"].iloc[0]) == 0.0 and penalty["p_better"].iloc[0] == 0.5
    norm = rows[rows["axis"] == "normalization"]
    # none-penalty runs under both names hold the same runs: one matched setting, not two
    assert norm["pairs"].tolist() == [1 + 2]
