"""Real-data floors: a split against itself, train vs test, the cache and its torch-free reader."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from landscape.evaluation import Evaluator, protocol_for
from landscape.evaluation.floor import floor, split_scores
from landscape.metrics import PAPER_FLOORS, floor_path, read_floor


def test_a_split_scored_against_itself_has_fid_zero(cache):
    evaluator = Evaluator(protocol_for("digits"), cache_dir=cache)
    same = split_scores(evaluator, "test")  # the first 350 test digits: the reference itself
    assert same["fid"] == pytest.approx(0, abs=1e-6)
    # KID's subsets are all 350 images of each side: the unbiased MMD^2 of a set against itself
    # is 2 (mean of K off the diagonal - mean of K), K = (x.y / d + 1)^3, in every subset.
    x = evaluator.reference.kid_features.double()
    k = (x @ x.T / x.shape[1] + 1) ** 3
    n = len(x)
    want = 2 * ((k.sum() - k.diagonal().sum()) / (n * (n - 1)) - k.sum() / n**2)
    assert same["kid_mean"] == pytest.approx(want.item(), rel=1e-6) and want < 0
    assert same["kid_std"] == pytest.approx(0, abs=1e-9)


def test_train_vs_test_floor_is_cached_and_reused(cache, monkeypatch):
    protocol = protocol_for("digits")
    assert read_floor(protocol, cache) is None
    record, computed = floor(protocol, cache_dir=cache)
    assert computed and record["protocol"] == "digits/test/350/digits-cnn"
    assert math.isfinite(record["fid"]) and record["fid"] > 0
    assert (record["split"], record["n_split"], record["n_reference"]) == ("train", 350, 350)
    assert record["paper_fid"] is None and not record["comparable_with_papers"]
    path = floor_path(protocol, cache)
    assert path.parent == cache / "stats" and path.name == "floor-digits_test_350_digits-cnn.json"
    assert list(path.parent.glob("digits-test-350-digits-cnn-*.npz"))  # beside the reference
    stamp = path.stat().st_mtime_ns

    import landscape.evaluation.floor as module

    monkeypatch.setattr(module, "compute_floor", lambda e: pytest.fail("recomputed"))
    again, computed = floor(protocol, cache_dir=cache)
    assert not computed and again == record and path.stat().st_mtime_ns == stamp
    for by in (protocol, protocol.name, protocol.as_dict()):  # name, Protocol or record
        assert read_floor(by, cache) == record


def test_a_floor_of_stale_reference_features_is_recomputed(cache):
    protocol = protocol_for("digits", n_samples=100)
    record, _ = floor(protocol, cache_dir=cache)
    path = floor_path(protocol, cache)
    path.write_text(json.dumps({**record, "fid": -1.0, "reference_key": "old-weights"}))
    again, computed = floor(protocol, cache_dir=cache)
    assert computed and again["fid"] == pytest.approx(record["fid"])
    assert read_floor(protocol, cache)["fid"] == pytest.approx(record["fid"])


def test_floor_command_prints_and_caches(cache, capsys):
    from landscape.cli import main

    args = ["floor", "digits", "--samples", "100", "--cache-dir", str(cache)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "digits/test/100/digits-cnn: train (100) vs test (100): FID" in out
    assert "computed and cached in" in out and "NOT comparable" in out
    assert main(args) == 0
    assert "\ncached in" in capsys.readouterr().out
    assert main(["floor", "digits", "--samples", "1500", "--cache-dir", str(cache)]) == 2
    assert "has 1438 images" in capsys.readouterr().err


def test_read_floor_needs_no_torch(tmp_path):
    path = floor_path("cifar10/test/10000/inception-v3-compat", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"fid": 5.0}))
    code = (
        "import sys; from landscape.metrics import read_floor, metric_columns; "
        f"assert read_floor('cifar10/test/10000/inception-v3-compat', {str(tmp_path)!r}) == "
        "{'fid': 5.0}; metric_columns(); assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert PAPER_FLOORS == {"cifar10": 5.19, "celeba_hq_128": 12.6, "lsun_bedroom": 3.8}
