"""Each run's page (runs/<run_id>/index.html), the loss curves beside the FID curves and the
evaluation-schedule table of the report, on a fake study written like a real one."""

from __future__ import annotations

import json
import os
import re

import pytest
from fake_results import fake_study

from landscape.analysis import load_results
from landscape.report import write_report
from landscape.report.run_pages import PAGE, write_run_pages

AXES = {"loss": ("ns", "wgan"), "penalty": ("none",), "normalization": ("none", "sn")}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = fake_study(
        tmp_path_factory.mktemp("pages"), axes=AXES, grid=2, search=0, samples="all", seed=3
    )
    for folder in (root / "runs").iterdir():
        if folder.name.startswith("."):
            continue
        lines = [{"step": s, "loss_d": 1 + s / 1000, "loss_g": 2 - s / 1000} for s in (50, 100)]
        lines.append({"step": 100, "loss_d": 0.5, "loss_g": 0.25})  # resumed: the last wins
        (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    first = sorted(p for p in (root / "runs").iterdir() if not p.name.startswith("."))[0]
    code = {"code": "abc123", "variants": {"loss:ns": "f00d"}, "files": {}, "libraries": {}}
    (first / "code.json").write_text(json.dumps(code))
    write_report(root, draws=50)
    return root


def folders(study):
    return sorted(p for p in (study / "runs").iterdir() if not p.name.startswith("."))


def test_every_run_has_a_page_with_its_curves_samples_config_and_code(study):
    results = load_results(study)
    for folder in folders(study):
        page = (folder / PAGE).read_text()
        evals = results.evals[results.evals.run_id == folder.name]
        fid = evals["fid"].dropna()
        polylines = re.findall(r"points='([^']*)'", page)
        if len(fid):
            assert len(polylines[0].split()) == len(fid)  # one point per finite FID
        losses = polylines[-2:]
        assert [len(p.split()) for p in losses] == [2, 2]  # steps 50 and 100, once each
        samples = sorted(p.name for p in (folder / "samples").glob("step_*.png"))
        assert re.findall(r'<img src="samples/(step_\d+\.png)"', page) == samples
        config = json.loads((folder / "config.json").read_text())
        assert f"<th>lr</th><td>{config['lr']}</td>" in page
    first = (folders(study)[0] / PAGE).read_text()
    assert "code abc123" in first and "<th>loss:ns</th><td>f00d</td>" in first
    assert "No code.json" in (folders(study)[1] / PAGE).read_text()


def test_the_report_links_each_run_to_its_page_and_draws_losses_and_the_schedule(study):
    report = (study / "report.html").read_text()
    for folder in folders(study):
        assert f'href="runs/{folder.name}/{PAGE}"' in report
    assert "figures/losses_" in report and list((study / "figures").glob("losses_*.png"))
    assert "How much the evaluation schedule matters" in report
    assert re.search(r'id="schedule-[^"]*"', report)


def test_only_pages_of_runs_that_moved_are_written_again(study):
    results = load_results(study)
    assert write_run_pages(results) == 0
    moved = folders(study)[2]
    later = (moved / PAGE).stat().st_mtime + 5
    os.utime(moved / "status.json", (later, later))
    assert write_run_pages(results) == 1
