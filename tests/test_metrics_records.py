"""Protocols, the shared cache and the evaluation log: how scores are labelled and kept."""

from __future__ import annotations

import json
import multiprocessing
import os
import time

import pytest

from landscape.evaluation import (
    EVAL_DIVERGED,
    Evaluator,
    InceptionWeightsMissing,
    ProtocolMismatchError,
    assert_one_protocol,
    protocol_for,
    run_score,
)
from landscape.evaluation.cache import default_cache_dir, load_or_compute
from landscape.train.records import append_jsonl, read_jsonl

PAPER_PROTOCOLS = [  # PAPER.md 7: dataset -> (n_fake, n_real, extractor, ms_ssim)
    ("cifar10", 10_000, 10_000, "inception-v3-compat", False),
    ("lsun_bedroom", 10_000, 10_000, "inception-v3-compat", False),
    ("celeba_hq_128", 3_000, 3_000, "inception-v3-compat", True),
    ("mnist", 10_000, 10_000, "inception-v3-compat", False),
    ("fashion_mnist", 10_000, 10_000, "inception-v3-compat", False),
    ("digits", 350, 350, "digits-cnn", False),
    ("image_folder", 10_000, 10_000, "inception-v3-compat", False),
]


@pytest.mark.parametrize(("dataset", "n_fake", "n_real", "extractor", "ms_ssim"), PAPER_PROTOCOLS)
def test_default_protocols_follow_the_paper(dataset, n_fake, n_real, extractor, ms_ssim):
    p = protocol_for(dataset)
    assert (p.n_fake, p.n_real, p.extractor, p.ms_ssim) == (n_fake, n_real, extractor, ms_ssim)
    assert (p.split, p.is_splits, p.z_seed, p.batch_size, p.quantize_fakes) == (
        "test",
        1,
        42,
        64,
        False,
    )
    assert p.name == f"{dataset}/test/{n_real}/{extractor}"


def test_sample_counts_are_rounded_down_to_a_multiple_of_50():
    assert protocol_for("cifar10", n_samples=1234).n_fake == 1200
    digits = protocol_for("digits", n_samples=10_000)  # more fakes than the 359 test digits
    assert (digits.n_fake, digits.n_real) == (10_000, 350)
    assert digits.name == "digits/test/10000-vs-350/digits-cnn"
    with pytest.raises(ValueError, match="at least 50"):
        protocol_for("cifar10", n_samples=49)


def test_unknown_extractor_lists_the_registered_ones():
    with pytest.raises(ValueError, match=r"unknown feature extractor 'incepton'.*digits-cnn"):
        protocol_for("cifar10", extractor="incepton")


def test_protocol_record_says_how_and_with_what_a_score_was_computed():
    record = protocol_for("digits").as_dict()
    assert json.loads(json.dumps(record)) == record  # JSON-ready
    assert record["reference"] == "digits/test" and record["extractor_weights"]
    assert set(record["versions"]) >= {"torch", "torch-fidelity", "numpy", "scipy"}
    assert not record["comparable_with_papers"]
    assert "NOT comparable with Inception-based" in record["note"]
    assert "not quantized" in record["fakes"]
    assert protocol_for("cifar10").as_dict()["comparable_with_papers"]
    assert not protocol_for("cifar10", n_samples=5000).comparable_with_papers  # not 10K/10K
    assert not protocol_for("digits", extractor="inception-v3-compat").comparable_with_papers
    assert protocol_for("cifar10", extractor="vgg16").quantize_fakes  # uint8-only extractor


def test_scores_from_different_protocols_are_never_mixed():
    a = {"fid": 3.0, "protocol": protocol_for("digits").as_dict()}
    b = {"fid": 2.0, "protocol": protocol_for("digits", n_samples=300).as_dict()}
    newer = {"fid": 1.0, "protocol": {**a["protocol"], "versions": {"torch": "99"}}}
    assert assert_one_protocol([a, newer]) == "digits/test/350/digits-cnn"
    with pytest.raises(ProtocolMismatchError, match="digits/test/300/digits-cnn"):
        assert_one_protocol([a, b])
    # a run scored again under another protocol: its best is chosen within one protocol
    assert run_score([a, b]) == 3.0  # the first record's: the protocol it was trained with
    assert run_score([a, b], "digits/test/300/digits-cnn") == 2.0
    assert run_score([b, a]) == 2.0
    same_name = {"fid": 1.0, "protocol": {**b["protocol"], "name": a["protocol"]["name"]}}
    with pytest.raises(ProtocolMismatchError):  # one name, two settings: never mixed
        run_score([a, same_name])


def test_run_score_is_the_minimum_fid_including_step_0_and_ignores_diverged(tmp_path):
    protocol = protocol_for("digits").as_dict()
    log = tmp_path / "evals.jsonl"
    for step, fid in [(0, 250.0), (1000, 40.5), (2000, EVAL_DIVERGED)]:
        append_jsonl(log, {"step": step, "fid": fid, "protocol": protocol})
    with open(log, "a") as f:
        f.write('{"step": 3000, "fi')  # a crash mid-write leaves a torn last line
    records = read_jsonl(log)
    assert [r["step"] for r in records] == [0, 1000, 2000]
    assert run_score(records) == 40.5
    assert run_score(records[:1]) == 250.0  # step 0 counts
    assert run_score(records[2:]) == EVAL_DIVERGED  # nothing finite: compare_gan's sentinel


def test_default_cache_dir_honours_landscape_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("LANDSCAPE_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("LANDSCAPE_CACHE")
    assert default_cache_dir() == default_cache_dir().home() / ".cache" / "landscape"


def _compute_in_worker(path: str, log: str) -> list[float]:
    def compute() -> list[float]:
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(0.3)  # long enough for every worker to be waiting on the lock
        return [1.0, 2.0, float(os.getpid())]

    def save(value, f):
        f.write(json.dumps(value).encode())

    return load_or_compute(
        __import__("pathlib").Path(path), compute, save, lambda p: json.loads(p.read_text())
    )


def test_cache_entry_is_computed_once_by_concurrent_workers(tmp_path):
    path, log = tmp_path / "stats" / "entry.json", tmp_path / "computed.log"
    with multiprocessing.get_context("fork").Pool(4) as pool:
        results = pool.starmap(_compute_in_worker, [(str(path), str(log))] * 4)
    assert len(log.read_text().splitlines()) == 1  # one worker computed...
    assert all(r == results[0] for r in results)  # ...and every worker got its result
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".partial")]


def test_missing_inception_fails_before_anything_recorded_is_touched(no_inception, tmp_path):
    run_dir = tmp_path / "runs" / "abc123"
    log = run_dir / "evals.jsonl"
    append_jsonl(log, {"step": 0, "fid": 300.0, "protocol": {"name": "x"}})
    before = log.read_bytes()
    with pytest.raises(InceptionWeightsMissing):  # raised where the evaluator is built
        Evaluator(protocol_for("cifar10"), cache_dir=tmp_path / "c")
    assert log.read_bytes() == before
