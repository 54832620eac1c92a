"""Claims read from the study file copied beside the results, torch-free, and their verdicts."""

from __future__ import annotations

import json

import pandas as pd

from landscape.analysis.findings import load_claims, more_needed

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


def test_an_at_least_as_good_claim_is_consistent_with_no_clear_difference():
    from landscape.analysis.findings import claim_verdict

    row = {"runs_better": 8, "runs_than": 8}
    assert claim_verdict("no clear difference", row, or_equal=True) == "consistent"
    assert claim_verdict("no clear difference", row, or_equal=False) == "undecided"
    assert claim_verdict("than better", row, or_equal=True) == "contradicted"
    assert claim_verdict("better better", row, or_equal=True) == "consistent"
    few = {"runs_better": 8, "runs_than": 3}  # too few runs to say even that
    assert claim_verdict("no clear difference", few, or_equal=True) == "undecided"


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
