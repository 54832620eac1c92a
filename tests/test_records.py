"""The record vocabulary: statuses, origins written by the real planner, the score rule, claims."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from landscape.analysis import VARIANT
from landscape.records import (
    AXES,
    AXIS_DEFAULTS,
    SENTINEL,
    Origin,
    OriginKind,
    Status,
    best_evaluation,
    run_score,
)
from landscape.study import StudyError, grid_runs, load_study, search_cells
from landscape.study.claims import parse_claims
from landscape.study.plan import Cell, cells, search_run

STUDIES = Path(__file__).resolve().parents[1] / "studies"


def test_one_meaning_of_finished_and_of_scored():
    assert [s for s in Status if s.finished] == [Status.OK, Status.DIVERGED, Status.FAILED]
    assert [s for s in Status if s.scored] == [Status.OK, Status.DIVERGED]
    assert Status("ok") is Status.OK and Status.OK == "ok"


@pytest.mark.parametrize(
    "origin",
    [
        Origin.grid("paper_table1-03"),
        Origin.search("ns-gp-sn-sndcgan-ndisc5", 17),
        Origin.target(2),
    ],
)
def test_origin_round_trips(origin):
    assert Origin.parse(str(origin)) == origin


def test_origins_of_the_real_planner_round_trip_with_their_trial_numbers():
    study = load_study(STUDIES / "quickstart.yaml")
    grid = {Origin.parse(r.origin) for r in grid_runs(study)}
    assert grid == {Origin.grid("hp-01")}
    (sc,) = search_cells(study)
    params = {"lr": 1e-3, "penalty_weight": 1.0, "loss": "ns", "penalty": "gp"}
    params |= {"normalization": "sn", "architecture": "sndcgan"}
    origin = Origin.parse(search_run(study, sc, params, 3).origin)
    assert origin.kind is OriginKind.SEARCH and origin.name == sc.key and origin.trial == 3
    assert not origin.fixed and Origin.grid("x").fixed


@pytest.mark.parametrize("text", ["search:7", "grid:", "nonsense", "search:cell:x"])
def test_unreadable_origins_name_the_valid_forms(text):
    with pytest.raises(ValueError, match="search:<cell>:<trial>"):
        Origin.parse(text)


def test_empty_origin_is_a_manual_run():
    assert Origin.parse("").kind is OriginKind.MANUAL and str(Origin.parse(None)) == ""


def test_score_rule_skips_the_sentinel_and_non_finite_values_and_keeps_the_earliest_tie():
    evals = [
        {"step": 0, "fid": 90.0},
        {"step": 10, "fid": SENTINEL},
        {"step": 20, "fid": math.nan},
        {"step": 30, "fid": 40.0},
        {"step": 40, "fid": 40.0},
    ]
    assert best_evaluation(evals)["step"] == 30 and run_score(evals) == 40.0
    assert run_score([{"step": 0, "fid": SENTINEL}]) == SENTINEL


GRID = {"loss": ("ns", "wgan"), "penalty": ("none", "gp"), "normalization": ("none", "sn")}


def fail(key, problem):
    raise StudyError(Path("s.yaml"), key, problem)


def test_both_claim_forms_parse_to_one_meaning():
    one, combo = parse_claims(
        [
            {"id": "F2", "axis": "normalization", "better": "sn", "than": "none", "source": "3.1"},
            {
                "id": "F6",
                "better": {"penalty": "gp", "normalization": "sn"},
                "than": {"penalty": "none", "normalization": "sn"},
            },
        ],
        fail,
        GRID,
    )
    assert one.compared == ("normalization",) and one.fixed == {} and one.source == "3.1"
    assert combo.compared == ("penalty",) and combo.fixed == {"normalization": "sn"}
    assert combo.label == "gp+sn better than none+sn (penalty+normalization)"


@pytest.mark.parametrize(
    "claim, key, words",
    [
        ({"axis": "normalization", "better": "bn", "than": "none"}, "better.normalization", "sn"),
        ({"axis": "colour", "better": "a", "than": "b"}, "better.colour", "unknown axis"),
        ({"axis": "loss", "better": "ns"}, "claims[0]", "both"),
        ({"axis": "loss", "better": "ns", "than": "ns"}, "claims[0]", "same variant"),
        ({"better": {"loss": "ns"}, "than": {"penalty": "gp"}}, "claims[0]", "same axes"),
        ({"axis": "loss", "better": "ns", "than": "wgan", "why": 1}, "why", "valid keys"),
    ],
)
def test_bad_claims_name_the_key_and_what_is_valid(claim, key, words):
    with pytest.raises(StudyError, match=words) as info:
        parse_claims([claim], fail, GRID)
    assert key in str(info.value)


def test_a_study_file_carries_its_claims(tmp_path):
    data = yaml.safe_load((STUDIES / "quickstart.yaml").read_text())
    data["claims"] = [{"axis": "normalization", "better": "sn", "than": "none", "source": "F2"}]
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump(data))
    (claim,) = load_study(path).claims
    assert claim.better == (("normalization", "sn"),)
    data["claims"][0]["better"] = "ln"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(StudyError, match="claims\\[0\\].better.normalization"):
        load_study(path)


def test_a_claim_the_grid_can_never_test_is_refused_at_load(tmp_path):
    data = yaml.safe_load((STUDIES / "quickstart.yaml").read_text())
    # gp+sn against none+sn, but every sn+gp cell is excluded: no run could ever test it
    data["exclude"] = [{"normalization": "sn", "penalty": "gp"}]
    data["claims"] = [
        {
            "id": "F6",
            "better": {"penalty": "gp", "normalization": "sn"},
            "than": {"penalty": "none", "normalization": "sn"},
        }
    ]
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(StudyError, match=r"claims\[0\].*can never be tested"):
        load_study(path)
    data["exclude"] = [{"normalization": "none", "penalty": "gp"}]  # sn+gp is still trained
    path.write_text(yaml.safe_dump(data))
    assert load_study(path).claims[0].id == "F6"


def test_the_lists_of_axes_are_records_axes(tmp_path):
    """The planner's cells, the analysis' variant columns and the axes a study may leave out
    all follow records.AXES: one list, restated nowhere."""
    assert Cell._fields == AXES
    assert VARIANT[2:] == (AXES[3], *AXES[:3]) and set(AXIS_DEFAULTS) <= set(AXES)
    path = tmp_path / "s.yaml"
    path.write_text(
        yaml.safe_dump({"dataset": "digits", "grid": {"loss": ["ns"], "architecture": ["sndcgan"]}})
    )
    (cell,) = cells(load_study(path))
    assert {a: getattr(cell, a) for a in AXIS_DEFAULTS} == AXIS_DEFAULTS  # left out: the default
