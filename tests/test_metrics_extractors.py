"""Feature extractors: the offline digits-cnn, Inception's float path and its missing weights."""

from __future__ import annotations

import pytest
import torch
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY
from torchvision.transforms.functional import gaussian_blur

from landscape.data import load
from landscape.data.digits import digits_arrays
from landscape.evaluation import (
    Evaluator,
    InceptionWeightsMissing,
    digits_cnn,
    protocol_for,
    scores,
)
from landscape.evaluation.extractors import create_extractor
from landscape.evaluation.features import extract
from landscape.evaluation.inception import WEIGHTS_FILE, InceptionV3FloatInput


def test_digits_cnn_is_registered_with_torch_fidelity():
    assert FEATURE_EXTRACTORS_REGISTRY["digits-cnn"] is digits_cnn.FeatureExtractorDigitsCNN


def test_digits_cnn_classifies_held_out_digits_above_95_percent(cache):
    extractor = create_extractor("digits-cnn", cache_dir=cache)
    test = load("digits", "test")
    _, labels = digits_arrays("test")
    logits = extract(extractor, test.images.split(64))["logits"]
    accuracy = (logits.argmax(1) == labels).float().mean().item()
    assert accuracy > 0.95
    assert accuracy == pytest.approx(extractor.test_accuracy)  # the recorded one is this one


def test_cached_weights_from_another_recipe_are_refused(digits_weights, tmp_path):
    state = torch.load(digits_weights, weights_only=True)
    state["recipe"] = {**state["recipe"], "epochs": 1}
    stale = tmp_path / digits_cnn.WEIGHTS_FILE
    torch.save(state, stale)
    with pytest.raises(ValueError, match="delete it to retrain"):
        digits_cnn.load_or_train(stale)


@pytest.mark.slow
def test_digits_cnn_training_is_seeded(digits_weights):
    again = digits_cnn.train()
    first = torch.load(digits_weights, weights_only=True)
    for name, value in first["state_dict"].items():
        torch.testing.assert_close(again["state_dict"][name], value, rtol=1e-4, atol=1e-5)


def test_digits_cnn_ranks_real_digits_far_better_than_blur_and_noise(cache):
    extractor = create_extractor("digits-cnn", cache_dir=cache)

    def fid(images):
        a = extract(extractor, images.split(64))["penultimate"]
        return scores.fid(scores.statistics(a), reference)

    reference_images = load("digits", "test").images[:350]
    reference = scores.statistics(extract(extractor, reference_images.split(64))["penultimate"])
    real = load("digits", "train").images[:350].float()
    blurred = gaussian_blur(real, kernel_size=9, sigma=2.0)
    noise = torch.rand(350, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 255
    fid_real, fid_blur, fid_noise = fid(real), fid(blurred), fid(noise)
    assert 3 * fid_real < fid_blur
    assert 3 * fid_blur < fid_noise


def test_torch_fidelity_can_use_digits_cnn_by_name(cache):
    from torch_fidelity import calculate_metrics

    class Images(torch.utils.data.Dataset):
        def __init__(self, images):
            self.images = images.expand(-1, 3, -1, -1)

        def __len__(self):
            return len(self.images)

        def __getitem__(self, i):
            return self.images[i]

    images = load("digits", "test").images[:100]
    out = calculate_metrics(
        input1=Images(images),
        input2=Images(images),
        fid=True,
        isc=True,
        feature_extractor="digits-cnn",
        cuda=False,
        cache=False,
        verbose=False,
        save_cpu_ram=True,
        isc_splits=1,
        feature_extractor_weights_path=str(cache / "extractors" / digits_cnn.WEIGHTS_FILE),
    )
    assert abs(out["frechet_inception_distance"]) < 1e-6
    assert out["inception_score_mean"] > 5  # 10 classes, confidently and evenly predicted


@pytest.fixture
def random_inception(monkeypatch):
    """inception-v3-compat with random weights: no file needed to check the float path."""
    monkeypatch.setattr(torch, "load", lambda *a, **k: {})
    monkeypatch.setattr(FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None)
    torch.manual_seed(0)
    return InceptionV3FloatInput(
        "inception-v3-compat", ["2048", "logits_unbiased"], feature_extractor_weights_path="unused"
    )


def test_inception_float_path_matches_torch_fidelity_bit_for_bit(random_inception):
    x = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    theirs = FeatureExtractorInceptionV3.forward(random_inception, x)
    ours = random_inception(x.float())
    for a, b in zip(theirs, ours, strict=True):
        assert torch.equal(a, b)
    fractional = random_inception(x.float() + 0.25)[0]  # unquantized input really is used
    assert not torch.equal(fractional, ours[0])


@pytest.mark.slow
def test_evaluator_wires_the_inception_protocol(random_inception, monkeypatch, tmp_path):
    # Random weights stand in for the real file: this checks the plumbing (feature layers,
    # 1 -> 3 channels, the float path, the cache), not the numbers.
    monkeypatch.setattr("landscape.evaluation.inception.inception_weights", lambda: "unused")
    from landscape import ARCHITECTURES

    G = ARCHITECTURES["sndcgan"](resolution=32, channels=1, norm="none", width=1 / 16).generator
    protocol = protocol_for("digits", n_samples=50, extractor="inception-v3-compat")
    evaluator = Evaluator(protocol, cache_dir=tmp_path)
    assert isinstance(evaluator.extractor, InceptionV3FloatInput)
    scores_ = evaluator(G)
    assert scores_["protocol"]["feature_layers"] == {
        "fid": "2048",
        "kid": "2048",
        "isc": "logits_unbiased",
    }
    assert scores_["fid"] >= 0 and 1 <= scores_["is_mean"] <= 1008
    assert evaluator.reference.kid_features.shape == (50, 2048)


def test_missing_inception_weights_name_the_file_and_folder(no_inception, tmp_path):
    with pytest.raises(InceptionWeightsMissing) as err:
        Evaluator(protocol_for("cifar10"), cache_dir=tmp_path / "cache")
    message = str(err.value)
    assert WEIGHTS_FILE in message
    assert str(no_inception) in message
    assert "could not be downloaded" in message and "URLError" in message
    assert isinstance(err.value, FileNotFoundError)
