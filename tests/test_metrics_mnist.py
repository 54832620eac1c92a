"""mnist-cnn and the offline MNIST protocol, on the real MNIST digits of ../shared/data."""

from __future__ import annotations

import shutil

import pytest
import torch
import yaml
from conftest import SHARED_DATA, needs_mnist
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY
from torchvision.transforms.functional import gaussian_blur

from landscape.data import load
from landscape.evaluation import mnist_cnn, protocol_for, protocol_of, scores
from landscape.evaluation.extractors import create_extractor
from landscape.evaluation.features import extract

SHARED = SHARED_DATA


@pytest.fixture(scope="module")
def mnist_cache(tmp_path_factory, mnist_weights):
    """A metrics cache holding mnist-cnn, trained once per session (conftest.mnist_weights)."""
    cache = tmp_path_factory.mktemp("mnist-cache")
    (cache / "extractors").mkdir()
    shutil.copy(mnist_weights, cache / "extractors" / mnist_cnn.WEIGHTS_FILE)
    return cache


def test_mnist_cnn_is_registered_and_the_mnist_protocols_are_labelled():
    assert FEATURE_EXTRACTORS_REGISTRY["mnist-cnn"] is mnist_cnn.FeatureExtractorMnistCNN
    p = protocol_for("mnist", extractor="mnist-cnn")
    assert (p.n_fake, p.n_real, p.split, p.quantize_fakes) == (10_000, 10_000, "test", False)
    assert p.name == "mnist/test/10000/mnist-cnn"
    record = p.as_dict()
    assert not record["comparable_with_papers"]
    assert "NOT comparable with Inception-based" in record["note"]
    assert record["extractor_weights"] == "mnist-cnn-v1.pt"
    more = protocol_for("mnist", n_samples=20_000, extractor="mnist-cnn")
    assert more.name == "mnist/test/20000-vs-10000/mnist-cnn"  # the test split has 10K
    assert protocol_for("mnist", n_samples=1_000, extractor="mnist-cnn").n_real == 1_000
    # Zero-padded to 32x32: not the paper's images, so not comparable even with Inception.
    for dataset in ("mnist", "fashion_mnist"):
        inception = protocol_for(dataset)
        assert not inception.comparable_with_papers
        assert "zero-padded from 28x28 to 32x32" in inception.note
    assert protocol_for("cifar10").comparable_with_papers


def test_a_study_file_selects_mnist_cnn(tmp_path):
    from landscape.study import grid_runs, load_study

    study = {
        "name": "m",
        "dataset": "mnist",
        "evaluation": {"extractor": "mnist-cnn", "samples": 2000},
        "budget": {"steps": 10, "eval_every": 5, "batch_size": 8},
        "grid": {
            "loss": ["ns"],
            "penalty": ["none"],
            "normalization": ["sn"],
            "architecture": ["sndcgan"],
        },
        "hyperparameters": [{"lr": 1e-3, "n_disc": 1}],
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(study))
    (run,) = grid_runs(load_study(tmp_path / "s.yaml"))
    assert protocol_of(run).name == "mnist/test/2000/mnist-cnn"


@needs_mnist
@pytest.mark.slow
def test_mnist_cnn_classifies_the_test_split_at_99_percent(mnist_cache):
    extractor = create_extractor("mnist-cnn", cache_dir=mnist_cache, data_root=SHARED)
    test = load("mnist", "test", root=SHARED).images
    _, labels = mnist_cnn._split("test", SHARED)
    logits = extract(extractor, test.split(500))["logits"]
    accuracy = (logits.argmax(1) == labels).float().mean().item()
    assert accuracy >= 0.99
    assert accuracy == pytest.approx(extractor.test_accuracy, abs=1e-6)  # the recorded one
    state = torch.load(mnist_cache / "extractors" / mnist_cnn.WEIGHTS_FILE, weights_only=True)
    assert state["recipe"] == mnist_cnn.RECIPE and state["test_accuracy"] >= 0.99


@needs_mnist
@pytest.mark.slow
def test_cached_mnist_cnn_is_reused_not_retrained(mnist_cache, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("mnist-cnn was retrained although its weights are cached")

    monkeypatch.setattr(mnist_cnn, "train", no_training)
    weights = mnist_cache / "extractors" / mnist_cnn.WEIGHTS_FILE
    before = weights.stat().st_mtime_ns
    extractor = create_extractor("mnist-cnn", cache_dir=mnist_cache, data_root=SHARED)
    assert extractor.test_accuracy >= 0.99
    assert weights.stat().st_mtime_ns == before


@needs_mnist
@pytest.mark.slow
def test_mnist_cnn_ranks_real_digits_far_better_than_blur_and_noise(mnist_cache):
    extractor = create_extractor("mnist-cnn", cache_dir=mnist_cache, data_root=SHARED)

    def features(images):
        return extract(extractor, images.split(500))["penultimate"]

    reference = scores.statistics(features(load("mnist", "test", root=SHARED).images[:2000]))
    real = load("mnist", "train", root=SHARED).images[:2000].float()
    blurred = gaussian_blur(real, kernel_size=9, sigma=2.0)
    noise = torch.rand(2000, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 255
    fid_real, fid_blur, fid_noise = (
        scores.fid(scores.statistics(features(x)), reference) for x in (real, blurred, noise)
    )
    print(f"mnist-cnn FID: real {fid_real:.3f}, blurred {fid_blur:.2f}, noise {fid_noise:.1f}")
    assert 0 < fid_real and 10 * fid_real < fid_blur
    assert 3 * fid_blur < fid_noise
