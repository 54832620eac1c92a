"""A report from a real tiny study: run folders written by the training loop itself (config,
status, evals, samples), including a run that diverged, read back by the torch-free report.

The evaluation hook is a stand-in with the contract's keys (the metrics arrive separately); the
folders, statuses and sample grids are the loop's own."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import torch

from landscape.data import load
from landscape.records import Origin
from landscape.report import write_report
from landscape.train import RunSpec, train

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is faster
PROTOCOL = {
    "name": "digits/test/350/digits-cnn",
    "extractor": "digits-cnn",
    "n_fake": 350,
    "n_real": 350,
    "reference": "digits/test",
    "comparable_with_papers": False,
    "versions": {"torch": torch.__version__},
}
TINY = dict(
    dataset="digits",
    architecture="sndcgan",
    width=1 / 16,
    batch_size=16,
    steps=8,
    eval_every=4,
    study="tiny",
)


def stand_in_scores(G) -> dict:
    """Deterministic numbers from the generator's samples, under the contract's keys."""
    with torch.no_grad():
        images = G(G.sample_z(32, generator=torch.Generator().manual_seed(0)))
    fid = 20.0 + 100.0 * float((images.mean() - 0.2).abs())
    return {
        "fid": fid,
        "is_mean": 1.0 + 10.0 / fid,
        "is_std": 0.0,
        "kid_mean": fid / 1000.0,
        "kid_std": 0.0,
        "ms_ssim": None,
        "protocol": PROTOCOL,
    }


def test_report_of_a_real_tiny_study(tmp_path, nan_loss):
    study = tmp_path / "tiny"
    specs = [
        RunSpec(**TINY, normalization=n, seed=s, origin=str(Origin.grid("hp-01")))
        for n in ("none", "sn")
        for s in (0, 1)
    ]
    specs.append(RunSpec(**TINY, loss=nan_loss, seed=0, origin=str(Origin.search("cell", 0))))
    data = load("digits", "train")  # once: loading it is slower than training these runs
    for spec in specs:
        train(
            spec, study / "runs" / spec.run_id, evaluate=stand_in_scores, data=data, progress=False
        )
    html = write_report(study, expected_runs=6).read_text()

    runs = pd.read_csv(study / "runs.csv")
    assert len(runs) == 5 and runs["protocol"].eq(PROTOCOL["name"]).all()
    assert sorted(runs["status"]) == ["diverged", "ok", "ok", "ok", "ok"]
    diverged = runs[runs["status"] == "diverged"].iloc[0]
    assert diverged["diverged_at"] == 6 and diverged["fid"] > 0  # its evaluation before NaN
    evals = pd.read_csv(study / "evals.csv")
    assert sorted(evals.groupby("run_id")["step"].apply(list).map(len)) == [2, 3, 3, 3, 3]
    ok = runs[runs["status"] == "ok"]
    assert (ok["steps_trained"] == 8).all() and (ok["best_step"].isin([0, 4, 8])).all()

    for section in ("protocol", "leaderboard", "top5", "budget", "curves", "samples", "runs"):
        assert f'<section id="{section}">' in html
    assert "scores are not comparable with Inception-based numbers" in html
    assert "5 runs finished of 6; 1 still to come" in html
    assert len(re.findall(r"<tr class=\"status-diverged\">", html)) == 1
    assert html.count('src="data:image/png;base64,') >= 3  # figures and the loop's sample grids
    board = pd.read_csv(study / "leaderboard.csv")
    assert set(board["normalization"]) == {"none", "sn"} and board["best"].sum() == 3
    # a diverged run keeps the best FID it reached before diverging (PAPER.md 7)
    nan_variant = board[board["loss"] == nan_loss].iloc[0]
    assert nan_variant["n_diverged"] == 1 and nan_variant["fid_median"] == diverged["fid"]
