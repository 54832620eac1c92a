"""The evaluation step: repeatable scores, the reference cache, the paper's sampling rules."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from landscape import ARCHITECTURES, Generator
from landscape.evaluation import (
    EVAL_DIVERGED,
    Evaluator,
    inception_weights_path,
    prepare_stats,
    protocol_for,
    run_score,
)


def tiny_generator() -> Generator:
    return ARCHITECTURES["sndcgan"](resolution=32, channels=1, norm="none", width=1 / 16).generator


class Constant(Generator):
    """G(z) = value everywhere, with a spy on what it was given and in which mode."""

    def __init__(self, value: float, channels: int = 1) -> None:
        super().__init__(z_dim=8)
        self.anchor = nn.Parameter(torch.zeros(()))
        self.value, self.channels = value, channels
        self.seen: list[tuple[torch.Tensor, bool]] = []

    def forward(self, z):
        self.seen.append((z.clone(), self.training))
        return torch.full((len(z), self.channels, 32, 32), self.value) + 0 * self.anchor


class Projection(Generator):
    """A fixed random map z -> image: every z gives a visibly different image."""

    def __init__(self) -> None:
        super().__init__(z_dim=16)
        self.map = nn.Linear(16, 32 * 32)

    def forward(self, z):
        return torch.sigmoid(4 * self.map(z)).view(-1, 1, 32, 32)


def count_calls(module: nn.Module) -> list[int]:
    calls = [0]
    module.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


def test_same_generator_and_seed_give_the_same_scores_twice(cache):
    G = tiny_generator()
    first = Evaluator(protocol_for("digits"), cache_dir=cache)(G)
    second = Evaluator(protocol_for("digits"), cache_dir=cache)(G)  # cold, then cached reference
    assert first == second
    assert {
        "fid",
        "is_mean",
        "is_std",
        "kid_mean",
        "kid_std",
        "ms_ssim",
        "knn_precision",
        "knn_recall",
        "density",
        "coverage",
        "fd_dinov2",
        "protocol",
    } == set(first)
    assert 0 <= first["knn_precision"] <= 1 and 0 <= first["knn_recall"] <= 1
    assert 0 <= first["coverage"] <= 1 and first["density"] >= 0
    assert first["fid"] > 0 and first["is_mean"] >= 1 and first["ms_ssim"] is None
    assert first["fd_dinov2"] is None  # off by default


def test_a_second_evaluation_reuses_the_cached_reference(cache):
    protocol = protocol_for("digits")
    batches = -(-protocol.n_fake // 64)
    first = Evaluator(protocol, cache_dir=cache)
    calls = count_calls(first.extractor)
    first(tiny_generator())
    assert calls[0] == batches + -(-protocol.n_real // 64)  # fakes + the real split
    path = first.reference_path
    assert path.is_file() and path.parent == cache / "stats"
    stamp = path.stat().st_mtime_ns

    second = Evaluator(protocol, cache_dir=cache)  # e.g. another worker, later
    calls = count_calls(second.extractor)
    second(tiny_generator())
    assert calls[0] == batches  # the fakes only: no real features recomputed
    assert prepare_stats("digits", cache_dir=cache) == path
    assert path.stat().st_mtime_ns == stamp


def test_fakes_follow_the_papers_sampling_rules(cache):
    G = Constant(100.4 / 255)
    G.train()
    evaluator = Evaluator(protocol_for("digits"), cache_dir=cache)
    seen_inputs: list[torch.Tensor] = []
    evaluator.extractor.register_forward_hook(lambda m, args, out: seen_inputs.append(args[0]))
    evaluator(G)
    assert G.training  # the caller's mode is restored
    assert all(not training for _, training in G.seen)  # ...but G sampled in eval mode
    assert [len(z) for z, _ in G.seen] == [64] * 5 + [30]  # 350 fakes in batches of 64
    want = G.sample_z(350, generator=torch.Generator().manual_seed(42))
    torch.testing.assert_close(torch.cat([z for z, _ in G.seen]), want, rtol=0, atol=0)
    fake = seen_inputs[-1]  # x255, 1 channel tiled to 3, not rounded to uint8
    assert fake.dtype == torch.float32 and fake.shape[1] == 3
    torch.testing.assert_close(fake, torch.full_like(fake, 100.4))


def test_eval_mode_is_restored_too(cache):
    G = tiny_generator().eval()
    Evaluator(protocol_for("digits"), cache_dir=cache)(G)
    assert not G.training


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_or_inf_fakes_set_every_metric_to_the_sentinel(cache, bad):
    protocol = dataclasses.replace(protocol_for("digits"), ms_ssim=True)
    scores = Evaluator(protocol, cache_dir=cache)(Constant(bad))
    metrics = {k: v for k, v in scores.items() if k != "protocol"}
    assert scores.pop("fd_dinov2") is None  # not computed (off by default): not diverged either
    metrics = {k: v for k, v in scores.items() if k != "protocol"}
    assert metrics == dict.fromkeys(metrics, EVAL_DIVERGED) and EVAL_DIVERGED == 31337.0


def test_ms_ssim_is_reported_only_where_the_protocol_asks(cache):
    assert protocol_for("celeba_hq_128").ms_ssim and not protocol_for("digits").ms_ssim
    protocol = dataclasses.replace(protocol_for("digits"), ms_ssim=True)
    evaluator = Evaluator(protocol, cache_dir=cache)
    assert evaluator(Constant(0.5))["ms_ssim"] == pytest.approx(1.0, abs=1e-6)  # all alike
    varied = evaluator(Projection())["ms_ssim"]
    assert 0 < varied < 0.5


def test_a_split_smaller_than_the_protocol_is_a_clear_error(cache):
    protocol = dataclasses.replace(protocol_for("digits"), n_real=400)
    with pytest.raises(ValueError, match=r"has 359 images.*needs 400"):
        Evaluator(protocol, cache_dir=cache)(tiny_generator())


def test_the_training_loop_appends_each_evaluation_with_its_step(cache, tmp_path):
    from landscape.train import RunSpec, train
    from landscape.train.records import read_jsonl

    spec = RunSpec(
        dataset="digits",
        architecture="sndcgan",
        width=1 / 16,
        z_dim=8,
        batch_size=8,
        steps=4,
        eval_every=2,
    )
    evaluator = Evaluator(protocol_for("digits"), cache_dir=cache)
    train(spec, tmp_path / "run", evaluate=evaluator, progress=False)
    records = read_jsonl(tmp_path / "run" / "evals.jsonl")
    assert [r["step"] for r in records] == [0, 2, 4]
    assert all(r["protocol"]["name"] == "digits/test/350/digits-cnn" for r in records)
    assert all(r["eval_seconds"] > 0 and np.isfinite(r["fid"]) for r in records)
    assert run_score(records) == min(r["fid"] for r in records)
    assert (
        Evaluator(protocol_for("digits"), cache_dir=cache)(Constant(float("nan")))["fid"]
        == EVAL_DIVERGED
    )


def test_a_generator_of_the_wrong_image_shape_is_a_clear_error(cache):
    with pytest.raises(ValueError, match=r"G makes \(3, 32, 32\) images.*\(1, 32, 32\)"):
        Evaluator(protocol_for("digits"), cache_dir=cache)(Constant(0.5, channels=3))


def test_prepare_stats_command_fills_the_cache(cache, capsys):
    from landscape.evaluation.cli import main

    assert main(["prepare-stats", "digits", "--cache-dir", str(cache)]) == 0
    out = capsys.readouterr().out
    assert "digits/test/350/digits-cnn" in out and "NOT comparable" in out
    assert "accuracy on the held-out digits test split" in out
    assert list((cache / "stats").glob("digits-test-350-digits-cnn-*.npz"))


@pytest.mark.slow
@pytest.mark.skipif(
    not inception_weights_path().is_file(),
    reason=f"Inception weights not at {inception_weights_path()} (offline)",
)
def test_inception_protocol_end_to_end(tmp_path):
    protocol = protocol_for("digits", n_samples=100, extractor="inception-v3-compat")
    scores = Evaluator(protocol, cache_dir=tmp_path)(tiny_generator())
    assert scores["protocol"]["feature_layers"]["fid"] == "2048"
    assert not scores["protocol"]["comparable_with_papers"]  # digits is not a paper data set
    assert scores["fid"] > 0 and 1 <= scores["is_mean"] < 1008
