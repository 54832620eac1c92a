"""A 1/10 version of the evidence study (studies/evidence/mnist.yaml), end to end on real MNIST:
plan, two workers, mnist-cnn evaluations, the report with its comparisons and findings."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import SHARED_DATA, needs_mnist

from landscape.study.claims import Verdict

EVIDENCE = Path(__file__).resolve().parents[1] / "studies" / "evidence" / "mnist.yaml"


def tenth(study: dict) -> dict:
    """8 runs of 40 steps instead of 72 of 800: one setting, one seed, no bn (so no F4)."""
    small = dict(study, name="evidence-tenth", seeds=[0])
    small["hyperparameters"] = study["hyperparameters"][:1]
    small["grid"] = dict(study["grid"], normalization=["none", "sn"])
    small["budget"] = dict(study["budget"], steps=40, eval_every=20, checkpoint_every=20)
    small["evaluation"] = dict(study["evaluation"], samples=500)
    small["claims"] = [c for c in study["claims"] if "bn" not in yaml.safe_dump(c)]
    return small


def test_the_evidence_study_is_the_design_its_page_describes():
    study = yaml.safe_load(EVIDENCE.read_text())
    cells = 1
    for axis in ("loss", "penalty", "normalization", "architecture"):
        cells *= len(study["grid"][axis])
    assert cells * len(study["hyperparameters"]) * len(study["seeds"]) == 72
    assert {c["id"] for c in study["claims"]} == {"F1", "F2", "F3", "F4", "F6"}
    assert study["evaluation"]["extractor"] == "mnist-cnn"


@pytest.mark.slow
@needs_mnist
def test_a_tenth_of_the_evidence_study_runs_end_to_end(tmp_path, mnist_weights):
    study = tenth(yaml.safe_load(EVIDENCE.read_text()))
    path = tmp_path / "tenth.yaml"
    path.write_text(yaml.safe_dump(study))
    cache = Path(os.environ["LANDSCAPE_CACHE"])
    (cache / "extractors").mkdir(parents=True, exist_ok=True)
    shutil.copy(mnist_weights, cache / "extractors" / mnist_weights.name)
    env = dict(os.environ, LANDSCAPE_DATA=str(SHARED_DATA))
    results = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "landscape.cli", "run", str(path), "--workers", "2"]
        + ["--results", str(results)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    folder = results / "evidence-tenth"
    runs = pd.read_csv(folder / "runs.csv")
    assert len(runs) == 8 and set(runs["status"]) <= {"ok", "diverged"}
    assert runs["fid"].notna().all() and (runs["fid"] > 0).all()
    findings = pd.read_csv(folder / "findings.csv")
    assert set(findings["id"]) == {"F1", "F2", "F3", "F6"}
    assert set(findings["verdict"]) <= set(Verdict)  # F1 is or_equal: supported, ...
    comparisons = pd.read_csv(folder / "comparisons.csv")
    assert set(comparisons["axis"]) == {"loss", "penalty", "normalization"}
    # every matched pair of one axis: the other two axes' 2 x 2 values, one setting
    assert (comparisons["pairs"] == 4).all()
    for name in ("top5.csv", "budget.csv", "report.html"):
        assert (folder / name).is_file(), name
    html = (folder / "report.html").read_text()
    assert "<h2>Findings" in html and "<h2>Comparisons" in html
    assert "not comparable with inception" in html.lower()
