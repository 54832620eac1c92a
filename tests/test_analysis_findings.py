"""Claims read from the study file copied beside the results, torch-free, and their verdicts."""

from __future__ import annotations

import json
import math
import zlib

import numpy as np
import pandas as pd
import pytest
from planned_results import planned_study

from landscape.analysis import check_claims, load_results
from landscape.analysis.findings import FINDING_COLUMNS, claim_verdict, load_claims, more_needed
from landscape.records import Status
from landscape.report import write_report
from landscape.report.tables import ONE_SEED
from landscape.study.claims import (
    NON_INFERIORITY_MARGIN,
    OR_EQUAL_VERDICTS,
    STRICT_VERDICTS,
    Verdict,
    claim_record,
    parse_claims,
    verdict_legend,
)

RUNS = pd.DataFrame(
    {
        "loss": ["ns", "wgan"],
        "penalty": ["none", "gp"],
        "normalization": ["none", "sn"],
        "architecture": ["sndcgan", "sndcgan"],
    }
)
CLAIMS = """claims:
  - {id: F2, axis: normalization, better: sn, than: none, source: "3.1"}
  - id: F6
    better: {penalty: gp, normalization: sn}
    than: {penalty: none, normalization: sn}
"""


def test_claims_come_from_the_newest_study_copy(tmp_path):
    (tmp_path / "study.yaml").write_text("name: s\n")
    assert load_claims(tmp_path, RUNS, []) == ()
    (tmp_path / "study.20260101-120000.yaml").write_text("name: s\n" + CLAIMS)
    problems: list[str] = []
    claims = load_claims(tmp_path, RUNS, problems)
    assert [c.id for c in claims] == ["F2", "F6"] and problems == []
    assert claims[1].compared == ("penalty",) and claims[1].fixed == {"normalization": "sn"}
    assert claims[0].source == "3.1"


def test_a_claim_on_values_never_run_is_a_problem_not_a_crash(tmp_path):
    (tmp_path / "study.yaml").write_text(CLAIMS.replace("better: sn,", "better: bn,"))
    problems: list[str] = []
    assert load_claims(tmp_path, RUNS, problems) == ()
    assert len(problems) == 1 and "'bn' is not trained" in problems[0]


def test_an_inherited_study_says_where_claims_must_come_from(tmp_path):
    (tmp_path / "study.yaml").write_text("base: _cifar10.yaml\ngrid: {loss: [ns]}\n")
    problems: list[str] = []
    assert load_claims(tmp_path, RUNS, problems) == ()
    assert "base: _cifar10.yaml" in problems[0] and "claims.json" in problems[0]
    claims = [{"id": "F2", "axis": "normalization", "better": "sn", "than": "none"}]
    (tmp_path / "claims.json").write_text(json.dumps(claims))
    assert [c.id for c in load_claims(tmp_path, RUNS, [])] == ["F2"]


def test_how_many_more_runs_would_likely_decide():
    row = {"runs_better": 8, "runs_than": 8, "p_better": 0.6, "p_low": 0.45, "p_high": 0.75}
    # half-width 0.15 against an effect of 0.1: (0.15 / 0.1) ** 2 = 2.25 times the runs
    assert more_needed(row) == "about 2.3x the matched runs (if the estimate holds)"
    assert more_needed({**row, "runs_than": 3}).startswith("at least 5 runs per side")
    assert more_needed({**row, "p_better": 0.5}).startswith("cannot say")


def row(low: float, high: float, runs: int = 8) -> dict:
    return {"runs_better": runs, "runs_than": 8, "p_low": low, "p_high": high}


@pytest.mark.parametrize(
    ("low", "high", "strict", "at_least"),
    [
        (0.51, 0.90, "consistent", "supported"),  # above 1/2: both claims hold
        (0.41, 0.75, "undecided", "supported"),  # just above 1/2 - 0.1
        (0.40, 0.75, "undecided", "not contradicted"),  # at 1/2 - 0.1: not above it
        (0.39, 0.75, "undecided", "not contradicted"),  # straddles 1/2 - 0.1 and 1/2
        (0.20, 0.50, "undecided", "not contradicted"),  # reaches 1/2: not wholly below
        (0.20, 0.49, "contradicted", "contradicted"),  # wholly below 1/2
        (0.45, 0.499, "contradicted", "contradicted"),  # below 1/2, though above 0.4 at its low
    ],
)
def test_verdicts_at_each_boundary_of_the_interval(low, high, strict, at_least):
    assert claim_verdict(row(low, high), or_equal=False) == strict
    assert claim_verdict(row(low, high), or_equal=True) == at_least
    assert claim_verdict(row(low, high), or_equal=True, margin=0.1) == at_least
    assert claim_verdict(row(low, high, runs=4), or_equal=True) == "undecided"  # too few runs


def test_the_margin_moves_the_line_of_support():
    r = row(0.34, 0.75)  # docs/findings.md's F1: P 0.54 [0.34, 0.75]
    assert claim_verdict(r, or_equal=True) == Verdict.NOT_CONTRADICTED  # 0.34 < 0.4
    assert claim_verdict(r, or_equal=True, margin=0.17) == Verdict.SUPPORTED  # 0.34 > 0.33
    assert claim_verdict(r, or_equal=True, margin=0.0) == Verdict.NOT_CONTRADICTED
    assert claim_verdict(row(0.41, 0.80), or_equal=True) == Verdict.SUPPORTED  # its protocol 1
    # to decide: the distance to the line it must clear, 0.54 - 0.4, against half-width 0.205
    r = {**r, "p_better": 0.54}
    assert more_needed(r, 0.4) == "about 2.2x the matched runs (if the estimate holds)"
    assert more_needed({**r, "p_better": 0.38}, 0.4).startswith("cannot say")


def test_the_verdict_words_have_one_home():
    assert set(STRICT_VERDICTS) | set(OR_EQUAL_VERDICTS) == set(Verdict)
    legend = verdict_legend(5)
    assert [w for w, _ in legend["A better than B"]] == list(STRICT_VERDICTS)
    assert [w for w, _ in legend["A at least as good as B (or_equal: true)"]] == list(
        OR_EQUAL_VERDICTS
    )
    assert "above 0.4" in dict(legend["A at least as good as B (or_equal: true)"])["supported"]


def parse(raw: list[dict]):
    def fail(key, problem):
        raise ValueError(f"{key}: {problem}")

    return parse_claims(raw, fail, {"loss": ("ns", "wgan")})


F1 = {"id": "F1", "axis": "loss", "better": "ns", "than": "wgan", "or_equal": True}


def test_a_margin_is_read_validated_and_written_back():
    (claim,) = parse([F1])
    assert claim.margin == NON_INFERIORITY_MARGIN == 0.1
    (claim,) = parse([{**F1, "margin": 0}])
    assert claim.margin == 0.0 and parse([claim_record(claim)]) == (claim,)
    (claim,) = parse([{**F1, "margin": 0.25}])
    assert claim_record(claim)["margin"] == 0.25 and parse([claim_record(claim)]) == (claim,)
    for bad in (0.5, -0.1, 1, "0.1", True):
        with pytest.raises(ValueError, match=r"claims\[0\]\.margin: expected a number from 0 up"):
            parse([{**F1, "margin": bad}])
    strict = {**F1, "or_equal": False, "margin": 0.1}
    with pytest.raises(ValueError, match="margin applies only to an `or_equal: true` claim"):
        parse([strict])
    (claim,) = parse([{k: v for k, v in F1.items() if k != "or_equal"}])
    assert "margin" not in claim_record(claim)  # a strict claim's record names none


def test_or_equal_is_read_from_the_study_file_and_labelled():
    from landscape.study.claims import parse_claims

    def fail(key, problem):
        raise ValueError(f"{key}: {problem}")

    grid = {"loss": ("ns", "wgan")}
    raw = [{"id": "F1", "axis": "loss", "better": "ns", "than": "wgan", "or_equal": True}]
    (claim,) = parse_claims(raw, fail, grid)
    assert claim.or_equal and claim.label == "ns at least as good as wgan (loss)"
    try:
        parse_claims([{**raw[0], "or_equal": "yes"}], fail, grid)
    except ValueError as error:
        assert "claims[0].or_equal: expected true or false" in str(error)
    else:
        raise AssertionError("or_equal: 'yes' was accepted")


def test_the_runner_keeps_a_reverted_study_file_and_resolves_inherited_claims(tmp_path):
    """Claims of a `base:` file reach the report through claims.json; a study file edited and
    then reverted is kept again, so the newest copy is the one that ran last."""
    import time

    from landscape.execution.runner import record_study_file
    from landscape.records import CLAIMS_JSON, study_copies
    from landscape.study.spec import load_study

    base = tmp_path / "base.yaml"
    base.write_text(
        "dataset: digits\ngrid: {loss: [ns, wgan], architecture: [sndcgan]}\n"
        "claims: [{id: F1, axis: loss, better: ns, than: wgan, or_equal: true}]\n"
    )
    child = tmp_path / "child.yaml"
    child.write_text("base: base.yaml\nseeds: [0]\n")
    results = tmp_path / "results"
    results.mkdir()
    record_study_file(load_study(child), results)
    claims = json.loads((results / CLAIMS_JSON).read_text())
    assert claims == [
        {
            "id": "F1",
            "better": {"loss": "ns"},
            "than": {"loss": "wgan"},
            "or_equal": True,
            "margin": 0.1,
            "source": "",
            "text": "",
        }
    ]
    runs = pd.DataFrame({"loss": ["ns", "wgan"], "architecture": ["sndcgan"] * 2})
    (claim,) = load_claims(results, runs, [])
    assert claim.or_equal and claim.id == "F1"
    original = child.read_text()
    child.write_text(original + "# edited\n")
    record_study_file(load_study(child), results)
    time.sleep(1.1)  # copies are named by the second
    child.write_text(original)
    record_study_file(load_study(child), results)
    copies = study_copies(results)
    assert len(copies) == 3 and copies[-1].read_text() == original


STUDY = """
name: verdicts
dataset: digits
budget: {steps: 4, eval_every: 2, batch_size: 8}
model: {width: 0.0625, z_dim: 16}
grid: {loss: [ns, wgan], penalty: [none, gp], normalization: [none, sn], architecture: [sndcgan]}
hyperparameters:
  - {lr: 0.0002, beta1: 0.5, beta2: 0.999, n_disc: 1, penalty_weight: 1}
  - {lr: 0.001, beta1: 0.5, beta2: 0.999, n_disc: 1, penalty_weight: 10}
seeds: [0, 1, 2]
search: {sampler: random, scope: space, trials: 3, n_disc: [1]}
claims:
  - {id: F1, axis: loss, better: ns, than: wgan, or_equal: true}
  - {id: S1, axis: loss, better: ns, than: wgan}
  - {id: W1, axis: penalty, better: gp, than: none, or_equal: true}
  - {id: U1, axis: penalty, better: gp, than: none}
  - {id: N1, axis: normalization, better: none, than: sn, or_equal: true}
  - {id: F2, axis: normalization, better: sn, than: none}
"""


def noisy(spec) -> tuple[str, float]:
    """Grid: 50, +10 without SN, +3 for wgan, +0.5 with gp, plus noise of sd 4 fixed by the
    variant, lr and seed (not the run_id, which may change with the id scheme); search trials:
    30 (one seed, better than every grid setting)."""
    if spec.origin.startswith("search"):
        return Status.OK, 30.0
    key = f"{spec.loss}|{spec.penalty}|{spec.normalization}|{spec.lr}|{spec.seed}"
    noise = np.random.default_rng(zlib.crc32(key.encode())).normal(0, 4)
    fid = 50.0 + 10.0 * (spec.normalization == "none") + 3.0 * (spec.loss == "wgan") + noise
    fid += 0.5 * (spec.penalty == "gp")
    return Status.OK, fid


@pytest.fixture(scope="module")
def noisy_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("verdicts")
    (root / "verdicts.yaml").write_text(STUDY)
    planned_study(root / "verdicts.yaml", root / "results", noisy, trials=1)
    return root / "results"


def study_findings(results) -> pd.DataFrame:
    runs = load_results(results).runs
    return check_claims(runs, load_claims(results, runs, []), resamples=2000)


def test_each_verdict_of_a_planned_study_at_the_strength_of_its_interval(noisy_study):
    findings = study_findings(noisy_study).set_index("id")
    assert list(findings.columns[-4:]) == ["or_equal", "margin", "verdict", "more"]
    assert set(findings["verdict"]) <= set(Verdict)
    for claim, said in findings["verdict"].items():
        f = findings.loc[claim]
        if f.or_equal:
            assert f.margin == NON_INFERIORITY_MARGIN
        else:
            assert math.isnan(f.margin)
        # each verdict agrees with its own interval (8 or 16 matched settings, 24 runs a side)
        if said == "supported":
            assert f.p_low > 0.4
        if said == "not contradicted":
            assert f.p_low <= 0.4 and f.p_high >= 0.5
        if said == "contradicted":
            assert f.p_high < 0.5
    # wgan 3 worse in noise of sd 4: P(ns better) 0.65 [0.56, 0.76], ns at least as good is
    # supported (and ns better, consistent); gp 0.5 worse: P(gp better) 0.42 [0.28, 0.58],
    # "gp at least as good" is not contradicted (below 0.4, not wholly below 1/2) and "gp
    # better" undecided; no normalization is 10 worse than sn: contradicted, F2 consistent
    assert findings["verdict"].to_dict() == {
        "F1": "supported",
        "S1": "consistent",
        "W1": "not contradicted",
        "U1": "undecided",
        "N1": "contradicted",
        "F2": "consistent",
    }
    assert 0.4 < findings.loc["F1", "p_low"] < findings.loc["F1", "p_high"]
    assert findings.loc["W1", "p_low"] < 0.4 < 0.5 < findings.loc["W1", "p_high"]
    assert findings.loc["N1", "p_high"] < 0.5
    # to decide: W1's estimate 0.42 is just above its line 0.4; U1's points away from 1/2
    assert findings.loc["W1", "more"].startswith("about")
    assert findings.loc["U1", "more"].startswith("about")
    assert findings.loc["F1", "more"] == ""  # decided: nothing to add


def test_a_margin_just_either_side_of_the_interval_decides_support(noisy_study):
    runs = load_results(noisy_study).runs
    (w1,) = check_claims(runs, parse_penalty([W1]), resamples=2000).itertuples()
    assert 0.02 < w1.p_low < 0.48  # so both margins below are valid
    wide = {**W1, "margin": round(0.5 - w1.p_low + 0.01, 6)}  # line just below the interval
    narrow = {**W1, "margin": round(0.5 - w1.p_low - 0.01, 6)}  # just inside it
    verdicts = check_claims(runs, parse_penalty([wide, narrow]), resamples=2000)
    assert verdicts["verdict"].tolist() == ["supported", "not contradicted"]
    # the same bootstrap: the interval does not move with the margin
    assert verdicts["p_low"].tolist() == [w1.p_low, w1.p_low]


@pytest.mark.slow
def test_the_report_and_findings_csv_use_the_verdict_words(noisy_study):
    write_report(noisy_study, draws=100)
    written = pd.read_csv(noisy_study / "findings.csv")
    expected = study_findings(noisy_study)
    assert written["verdict"].tolist() == expected["verdict"].tolist()
    assert list(written.columns) == list(FINDING_COLUMNS)
    html = (noisy_study / "report.html").read_text()
    legend = html[html.index('<ul class="verdicts">') :]
    legend = legend[: legend.index("</ul>")]
    for word in Verdict:
        assert f"<b>{word}</b>" in legend
    assert "above 0.4" in legend
    assert "at least as good, margin 0.1" in html  # the claim's form in the findings table
    assert "This table is exploratory" in html and "significant at family-wise 0.05" in html
    # the search trial (one seed, FID 30, better than any grid setting) is marked, and ranks
    # after its variant's replicated settings (the default --min-seeds 2)
    assert f'<td data-v="1">{ONE_SEED}</td>' in html
    board = pd.read_csv(noisy_study / "leaderboard.csv")
    (trial,) = board[board["origin"] == "search"].itertuples()
    assert trial.n_seeds == 1 and trial.fid_median == 30.0 and trial.rank > 1


@pytest.mark.slow
def test_the_report_command_takes_min_seeds_as_documented(noisy_study, capsys):
    from landscape.cli import main

    assert main(["report", str(noisy_study), "--min-seeds", "0"]) == 2
    assert "--min-seeds: expected a whole number of seeds, 1 or more" in capsys.readouterr().err
    assert main(["report", str(noisy_study), "--min-seeds", "1"]) == 0  # by median alone
    board = pd.read_csv(noisy_study / "leaderboard.csv")
    (trial,) = board[board["origin"] == "search"].itertuples()
    assert trial.rank == 1 and trial.best  # the one lucky trial (30) beats every grid setting


W1 = {"id": "W1", "axis": "penalty", "better": "gp", "than": "none", "or_equal": True}


def parse_penalty(raw: list[dict]):
    def fail(key, problem):
        raise ValueError(f"{key}: {problem}")

    claims = [{**c, "id": f"{c['id']}{i}"} for i, c in enumerate(raw)]
    return parse_claims(claims, fail, {"penalty": ("gp", "none")})


def test_the_exploratory_table_of_a_planned_study_controls_the_family_wise_error(noisy_study):
    from landscape.analysis import axis_comparisons
    from landscape.analysis.comparisons import holm

    runs = load_results(noisy_study).runs
    table = axis_comparisons(runs, ["loss", "penalty", "normalization"]).set_index("axis")
    assert (table["runs_a"] >= 5).all()  # all three rows are in the family
    assert table["p_holm"].tolist() == holm(table["p"]).tolist()
    # sn vs none (+10): every resample above 1/2, p = 2 / 2001, times 3 comparisons
    assert table.loc["normalization", "p_holm"] == pytest.approx(3 * 2 / 2001)
    assert table.loc["normalization", "significant"]
    assert not table.loc["penalty", "significant"]  # gp 0.5 worse: no clear difference
    # each row's own verdict agrees with its unadjusted p (2000 resamples at 95%)
    named = table["verdict"] != "no clear difference"
    assert (named == (table["p"] < 0.05)).all()
    # a claim is confirmatory: findings.csv has no family-wise columns
    assert not {"p", "p_holm", "significant"} & set(FINDING_COLUMNS)
