"""How much the evaluation schedule matters (issue 18.6): run scores under fewer evaluations,
checked against values computed by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from landscape.analysis.schedule import schedule_table, thinned

FIDS = {  # run -> (loss, FIDs of its evaluations in step order)
    "a": ("ns", [50, 30, 40, 20, 25]),  # best 20; every 2nd sees 50, 40, 25 -> 25
    "b": ("wgan", [60, 10, 30]),  # best 10; every 2nd sees 60, 30 -> 30
    "c": ("ns", [40, 35, 15]),  # best 15; every 2nd sees 40, 15 -> 15 (unchanged)
}


def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    runs = pd.DataFrame(
        [
            {"run_id": r, "loss": loss, "status": "ok", "protocol": "p"}
            for r, (loss, _) in FIDS.items()
        ]
    )
    evals = pd.DataFrame(
        [
            {"run_id": r, "step": 100 * i, "fid": float(f)}
            for r, (_, fids) in FIDS.items()
            for i, f in enumerate(fids)
        ]
    )
    return runs, evals


def test_a_sparser_schedule_keeps_every_kth_evaluation_and_the_last():
    _, evals = frames()
    kept = thinned(evals, 4)
    assert kept[kept.run_id == "a"]["step"].tolist() == [0, 400]
    assert kept[kept.run_id == "b"]["step"].tolist() == [0, 200]  # the last is always kept
    assert thinned(evals, 0).groupby("run_id")["fid"].first().to_dict() == {
        "a": 25.0,
        "b": 30.0,
        "c": 15.0,
    }


def test_the_table_is_the_hand_computed_changes():
    table = schedule_table(*frames()).set_index("schedule")
    every = table.loc["every evaluation"]
    assert (every.median_change, every.worse_share, every.top5_median_change) == (0, 0, 0)
    assert every.evaluations == 3  # runs of 5, 3 and 3 evaluations
    half = table.loc["every 2nd"]
    assert half.evaluations == 2  # 3, 2 and 2
    assert half.median_change == 5  # changes +5, +20, 0
    assert half.worse_share == pytest.approx(2 / 3)
    # best 5% of each loss = its best run: ns 15 -> 15 (c), wgan 10 -> 30: median of 0 and 20
    assert half.top5_median_change == 10
    last = table.loc["last only"]
    assert (last.evaluations, last.median_change) == (1, 5)  # +5, +20, 0
    assert last.runs == 3


def test_a_study_without_finished_runs_gives_an_empty_table():
    runs, evals = frames()
    assert schedule_table(runs.assign(status="running"), evals).empty
