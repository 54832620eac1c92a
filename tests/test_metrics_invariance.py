"""Known traps of feature-based metrics, tested with randomly initialised networks where the
real weights are absent: batch-size dependence (torch-fidelity #43, torchmetrics #1620) and the
resize from stored images to a network's input (clean-fid's PIL-vs-tensor finding)."""

from __future__ import annotations

import dataclasses
import math
import shutil

import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms as T
from PIL import Image
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

from landscape import ARCHITECTURES
from landscape.data import DATASETS
from landscape.data.base import fact_of, resolution_of
from landscape.evaluation import Evaluator, dinov2, protocol_for
from landscape.evaluation.features import extract_each, extractor_input
from landscape.evaluation.inception import InceptionV3FloatInput
from landscape.metrics import METRICS, metric_columns

TINY = {"embed_dim": 32, "depth": 1, "num_heads": 2}
_VIT = dinov2.vit
BATCHES = (1, 50, 500)


@pytest.fixture
def cache(monkeypatch, tmp_path, digits_weights):
    """A cache with the session's digits-cnn and a tiny random DINOv2-design ViT."""
    monkeypatch.setattr(dinov2, "vit", lambda **kw: _VIT(**{**TINY, **kw}))
    (tmp_path / "extractors").mkdir()
    shutil.copy(digits_weights, tmp_path / "extractors" / digits_weights.name)
    torch.manual_seed(1)
    state = dinov2.vit().state_dict()
    state["mask_token"] = torch.zeros(1, TINY["embed_dim"])
    torch.save(state, tmp_path / "extractors" / dinov2.WEIGHTS_FILE)
    return tmp_path


def relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-12)


@pytest.fixture
def one_thread():
    """One thread: tiny networks at batch 1 spend their time spinning threads otherwise."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_features_and_every_metric_agree_whatever_the_batch_size(cache, one_thread):
    base = protocol_for("digits", n_samples=500, metrics=list(METRICS))  # 500 fakes, 350 reals
    torch.manual_seed(0)
    G = ARCHITECTURES["sndcgan"](resolution=32, channels=1, norm="bn", width=1 / 16).generator
    records, features = {}, {}
    images = (torch.rand(200, 1, 32, 32) * 255).round().to(torch.uint8)
    for b in BATCHES:
        folder = cache / f"batch-{b}"  # the reference features are recomputed in batches of b
        shutil.copytree(cache / "extractors", folder / "extractors")
        evaluator = Evaluator(dataclasses.replace(base, batch_size=b), cache_dir=folder)
        records[b] = evaluator(G)
        nets = {name: (net, name == "dinov2-vitl14") for name, net in evaluator.networks.items()}
        features[b] = extract_each(nets, images.split(b))
    scores = [k for k in metric_columns() if isinstance(records[1][k], float)]
    assert {"fid", "kid_mean", "is_mean", "fd_dinov2", "density", "knn_precision"} <= set(scores)
    spreads = [k for m in METRICS.values() for k in m.spread if records[1][k] is not None]
    for b in BATCHES[1:]:
        for key in scores:
            assert relative(records[b][key], records[1][key]) < 1e-4, (b, key)
        for key in spreads:  # kid_std is ~3e-8 here: noise-sized, compared absolutely
            assert abs(records[b][key] - records[1][key]) < 1e-6, (b, key)
        for network, layers in features[1].items():
            for layer, value in layers.items():
                other = features[b][network][layer]
                assert (other - value).abs().max() <= 1e-4 * value.abs().max(), (b, network)


@pytest.fixture(scope="module")
def random_inception():
    """inception-v3-compat with random weights (no file needed to check its input path)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch, "load", lambda *a, **k: {})
        mp.setattr(FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None)
        return InceptionV3FloatInput(
            "inception-v3-compat", ["2048"], feature_extractor_weights_path=""
        )


def tf1_bilinear(x: torch.Tensor, size: int) -> torch.Tensor:
    """torch-fidelity's TF1-compatible resize, then Inception's (x - 128) / 128."""
    return (
        interpolate_bilinear_2d_like_tensorflow1x(x, size=(size, size), align_corners=False) - 128
    ) / 128


def pil_bicubic(x: torch.Tensor, size: int) -> torch.Tensor:
    """dgm-eval's DINOv2 transform: torchvision Resize on PIL images, ToTensor, Normalize."""
    transform = T.Compose(
        [
            T.Resize((size, size), T.InterpolationMode.BICUBIC),
            T.ToTensor(),
            T.Normalize(dinov2.IMAGENET_MEAN, dinov2.IMAGENET_STD),
        ]
    )
    return torch.stack([transform(Image.fromarray(i.permute(1, 2, 0).numpy())) for i in x])


RESIZERS = {"tf1-bilinear": tf1_bilinear, "pil-bicubic": pil_bicubic}
OTHER = {  # the resize a careless port would use instead: each must give other inputs
    "tf1-bilinear": lambda x, s: (
        (F.interpolate(x, size=s, mode="bilinear", antialias=True) - 128) / 128
    ),
    "pil-bicubic": lambda x, s: (
        (F.interpolate(x.float(), size=s, mode="bicubic") / 255 - 0.45) / 0.226
    ),
}


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_the_recorded_resize_path_is_the_one_applied(dataset, random_inception):
    resolution = resolution_of(dataset)
    protocol = protocol_for(dataset, metrics=["fid", "fd_dinov2"])
    record = protocol.as_dict()["networks"]
    vit = dinov2.FeatureExtractorDinoV2(
        dinov2.NAME, ["cls"], vit_overrides=TINY, random_weights=True
    )
    applied = {"inception-v3-compat": random_inception.preprocess, dinov2.NAME: vit.preprocess}
    torch.manual_seed(0)
    channels = fact_of(dataset, "channels", 3)
    stored = torch.randint(0, 256, (2, channels, resolution, resolution), dtype=torch.uint8)
    for network, entry in record.items():
        if entry["resize"] == "none":  # the gray CNNs on their own 32 x 32 digits
            assert resolution == entry["input_size"] == 32 and network == "digits-cnn"
            continue
        path, sizes = entry["resize"].split(" ")
        assert sizes == f"{resolution}->{entry['input_size']}"
        x = extractor_input(stored, quantize=entry["quantized"])  # how the evaluator feeds it
        ours = applied[network](x)
        expected = RESIZERS[path](x, entry["input_size"])
        assert (ours - expected).abs().max() < 1e-5, (dataset, network)
        wrong = OTHER[path](x.float(), entry["input_size"])
        assert (ours - wrong).abs().max() > 1e-2, (dataset, network)
    assert math.isfinite(len(record))
