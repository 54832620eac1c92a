"""`landscape sample` (issue 18.4): a run's images from its best (or a kept) generator as PNG
files or one npz (uint8, N x H x W x C under arr_0), with the run, step and seed in sample.json;
given a study's results folder, its best run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from test_evaluate import trained

from landscape import cli
from landscape.records import best_evaluation, run_score
from landscape.train import RunSpec
from landscape.train.kept import build_generator
from landscape.train.records import read_jsonl

pytestmark = pytest.mark.usefixtures("one_thread")


def test_npz_and_png_hold_the_kept_generators_images(tmp_path, cache):
    folder = trained(tmp_path / "results" / "tiny", cache, keep="every")
    best = best_evaluation(read_jsonl(folder.eval_log))
    out = tmp_path / "npz"
    assert (
        cli.main(["sample", str(folder.path), "--n", "70", "--out", str(out), "--format", "npz"])
        == 0
    )
    images = np.load(out / "samples.npz")["arr_0"]
    assert images.shape == (70, 32, 32, 1) and images.dtype == np.uint8
    record = json.loads((out / "sample.json").read_text())
    assert record["step"] == best["step"] and record["seed"] == 42 and record["n"] == 70
    assert record["run_id"] == folder.path.name
    # the same images by hand: G at the best step, eval mode, z from seed 42
    spec = RunSpec.from_record(json.loads(folder.config.read_text()))
    G, payload = build_generator(spec, folder.best_generator)
    z = G.sample_z(70, generator=torch.Generator().manual_seed(42))
    with torch.no_grad():
        expected = torch.cat([G(zb) for zb in z.split(64)]).mul(255).round().to(torch.uint8)
    assert np.array_equal(images, expected.permute(0, 2, 3, 1).numpy())
    pngs = tmp_path / "png"
    argv = ["sample", str(folder.path), "--n", "3", "--out", str(pngs), "--step", "2"]
    assert cli.main([*argv, "--seed", "7"]) == 0
    files = sorted(p.name for p in pngs.glob("*.png"))
    assert files == ["000000.png", "000001.png", "000002.png"]
    assert np.asarray(Image.open(pngs / files[0])).shape == (32, 32)
    assert json.loads((pngs / "sample.json").read_text())["step"] == 2
    assert cli.main([*argv, "--seed", "7"]) == 2  # never into a folder that holds files
    assert cli.main(["sample", str(folder.path), "--out", str(tmp_path / "x"), "--step", "3"]) == 2


@pytest.mark.slow
def test_a_study_folder_gives_its_best_run(tmp_path, cache):
    results = tmp_path / "results" / "tiny"
    folders = [trained(results, cache, seed=s) for s in (0, 1, 2)]
    scores = {f.path.name: run_score(read_jsonl(f.eval_log)) for f in folders}
    out = tmp_path / "out"
    assert cli.main(["sample", str(results), "--n", "2", "--out", str(out)]) == 0
    chosen = json.loads((out / "sample.json").read_text())["run_id"]
    assert scores[chosen] == min(scores.values())
