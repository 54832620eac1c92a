"""A study chooses its metrics (``evaluation: metrics``): checked when the file is read, passed
to every evaluation of its runs, and without effect on the runs' ids."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from landscape.evaluation import protocol_of
from landscape.study import StudyError, grid_runs, load_study

STUDY = {
    "name": "m",
    "dataset": "digits",
    "budget": {"steps": 10, "eval_every": 5, "batch_size": 8},
    "model": {"width": 0.0625, "z_dim": 16},
    "grid": {
        "loss": ["ns"],
        "penalty": ["none"],
        "normalization": ["sn"],
        "architecture": ["sndcgan"],
    },
    "hyperparameters": [{"lr": 1e-3, "n_disc": 1}],
}


def write(tmp_path: Path, evaluation: dict | None) -> Path:
    data = {**STUDY, **({"evaluation": evaluation} if evaluation is not None else {})}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_listed_metrics_reach_the_protocol_and_leave_run_ids_alone(tmp_path):
    default = load_study(write(tmp_path, None))
    chosen = load_study(write(tmp_path, {"metrics": ["fd_dinov2", "fid", "density_coverage"]}))
    assert default.metrics is None
    assert chosen.metrics == ("density_coverage", "fd_dinov2", "fid")  # registry order
    run = grid_runs(chosen)[0]
    assert [r.run_id for r in grid_runs(default)] == [r.run_id for r in grid_runs(chosen)]
    protocol = protocol_of(run, metrics=chosen.metrics)
    assert protocol.networks == {
        "digits-cnn": ("density_coverage", "fid"),
        "dinov2-vitl14": ("fd_dinov2",),
    }
    assert "fd_dinov2" not in protocol_of(run).selected


@pytest.mark.parametrize(
    "metrics, message",
    [
        (["fid", "fdd"], "evaluation.metrics: unknown metric 'fdd'; choose from: .*fd_dinov2"),
        ("fid", "evaluation.metrics: give a list of metric names from: .*fid"),
        ([], "evaluation.metrics: give a list"),
    ],
)
def test_a_bad_metrics_list_names_the_key_and_the_choices(tmp_path, metrics, message):
    with pytest.raises(StudyError, match=message):
        load_study(write(tmp_path, {"metrics": metrics}))
