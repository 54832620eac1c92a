"""Each metric on its own network: DINOv2 ViT-L/14 (FD_DINOv2) with a randomly initialised
stand-in of the same design, features extracted once per network, the protocol's record of
networks and sample counts, and the missing-weights message."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
import torchvision.transforms as T
from PIL import Image

from landscape import ARCHITECTURES
from landscape.evaluation import DinoV2WeightsMissing, Evaluator, dinov2, protocol_for
from landscape.evaluation.reference import reference_path
from landscape.evaluation.weights import file_sha256
from landscape.metrics import METRICS, default_metrics

TINY = {"embed_dim": 32, "depth": 1, "num_heads": 2}  # ViT-L/14's design, a toy's size
_VIT = dinov2.vit


@pytest.fixture
def tiny_dinov2(monkeypatch, tmp_path, digits_weights):
    """A cache whose dinov2_vitl14_pretrain.pth holds a tiny random ViT in the official
    checkpoint's layout (its keys plus ``mask_token``); dinov2.vit builds that tiny ViT. The
    session's trained digits-cnn is copied in beside it."""
    (tmp_path / "extractors").mkdir()
    shutil.copy(digits_weights, tmp_path / "extractors" / digits_weights.name)
    monkeypatch.setattr(dinov2, "vit", lambda **kw: _VIT(**{**TINY, **kw}))
    torch.manual_seed(1)
    state = dinov2.vit().state_dict()
    state["mask_token"] = torch.zeros(1, TINY["embed_dim"])
    path = tmp_path / "extractors" / dinov2.WEIGHTS_FILE
    torch.save(state, path)
    return tmp_path


def generator():
    torch.manual_seed(0)
    return ARCHITECTURES["sndcgan"](resolution=32, channels=1, norm="none", width=1 / 16).generator


def official_keys(depth: int = 24) -> set[str]:
    """The parameter names of Meta's dinov2_vitl14_pretrain.pth (DinoVisionTransformer with
    block_chunks=0, as torch.hub's dinov2_vitl14 builds it)."""
    block = [
        "norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight",
        "attn.proj.bias", "ls1.gamma", "norm2.weight", "norm2.bias", "mlp.fc1.weight",
        "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias", "ls2.gamma",
    ]  # fmt: skip
    top = {"cls_token", "pos_embed", "mask_token", "patch_embed.proj.weight"}
    top |= {"patch_embed.proj.bias", "norm.weight", "norm.bias"}
    return top | {f"blocks.{i}.{name}" for i in range(depth) for name in block}


def test_timm_vit_l14_has_the_official_checkpoints_names_and_shapes():
    with torch.device("meta"):
        state = dinov2.vit().state_dict()
    assert set(state) | set(dinov2.DROPPED_KEYS) == official_keys()
    assert state["pos_embed"].shape == (1, 37 * 37 + 1, 1024)  # trained at 518 = 37 x 14
    assert state["patch_embed.proj.weight"].shape == (1024, 3, 14, 14)
    assert state["blocks.23.mlp.fc1.weight"].shape == (4096, 1024)


def test_a_checkpoint_with_other_names_is_refused(tiny_dinov2):
    path = tiny_dinov2 / "extractors" / dinov2.WEIGHTS_FILE
    state = torch.load(path, weights_only=True)
    state["blocks.0.gamma1"] = state.pop("blocks.0.ls1.gamma")  # another layout's name
    torch.save(state, path)
    with pytest.raises(RuntimeError, match="ls1.gamma"):
        dinov2.FeatureExtractorDinoV2(dinov2.NAME, ["cls"], path)


def test_missing_dinov2_weights_name_the_file_the_folder_and_the_url(tmp_path):
    protocol = protocol_for("digits", metrics=["fid", "fd_dinov2"])
    with pytest.raises(DinoV2WeightsMissing) as error:
        Evaluator(protocol, cache_dir=tmp_path)
    message = str(error.value)
    assert str(tmp_path / "extractors" / dinov2.WEIGHTS_FILE) in message
    assert dinov2.WEIGHTS_URL in message and "fd_dinov2" in message


def test_fd_dinov2_is_off_by_default_and_listed_on_request():
    assert "fd_dinov2" not in default_metrics() and "fid" in default_metrics()
    assert list(protocol_for("cifar10").networks) == ["inception-v3-compat"]
    chosen = protocol_for("cifar10", metrics=["fid", "fd_dinov2", "is"])
    assert chosen.networks == {
        "dinov2-vitl14": ("fd_dinov2",),
        "inception-v3-compat": ("fid", "is"),
    }


def test_dinov2_input_is_dgm_evals_transform_not_torchs_bicubic():
    x = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    net = dinov2.FeatureExtractorDinoV2(
        dinov2.NAME, ["cls"], vit_overrides=TINY, random_weights=True
    )
    dgm_eval = T.Compose(  # dgm-eval's DINOv2Encoder.transform, clean_resize=False
        [
            T.Resize((224, 224), T.InterpolationMode.BICUBIC),
            T.ToTensor(),
            T.Normalize(dinov2.IMAGENET_MEAN, dinov2.IMAGENET_STD),
        ]
    )
    theirs = torch.stack([dgm_eval(Image.fromarray(i.permute(1, 2, 0).numpy())) for i in x])
    ours = net.preprocess(x)
    assert (ours - theirs).abs().max() < 1e-5
    # the trap: torch's tensor bicubic (a = -0.75) is another resize
    tensor_bicubic = torch.nn.functional.interpolate(x.float(), size=224, mode="bicubic")
    normalized = (tensor_bicubic - net.mean) / net.std
    assert (ours - normalized).abs().max() > 0.05


def test_position_embeddings_follow_dinov2s_interpolation():
    pos = torch.randn(1, 37 * 37 + 1, 8)
    assert dinov2.interpolate_pos_embed(pos, 37) is pos
    out = dinov2.interpolate_pos_embed(pos, 16)
    assert out.shape == (1, 16 * 16 + 1, 8) and torch.equal(out[:, 0], pos[:, 0])
    grid = pos[:, 1:].reshape(1, 37, 37, 8).permute(0, 3, 1, 2)
    scale = (16 + 0.1) / 37  # DINOv2's interpolate_offset, not size=(16, 16)
    expected = torch.nn.functional.interpolate(grid, scale_factor=scale, mode="bicubic")
    assert torch.allclose(out[0, 1:], expected.permute(0, 2, 3, 1).reshape(256, 8)[0:256])
    by_size = torch.nn.functional.interpolate(grid, size=(16, 16), mode="bicubic")
    assert not torch.allclose(expected, by_size, atol=1e-3)


def test_each_network_runs_once_and_its_metrics_share_the_features(tiny_dinov2, monkeypatch):
    protocol = protocol_for("digits", metrics=["fid", "kid", "is", "fd_dinov2"])
    evaluator = Evaluator(protocol, cache_dir=tiny_dinov2)
    evaluator.prepare()
    calls = {name: 0 for name in evaluator.networks}
    for name, net in evaluator.networks.items():
        forward = net.forward

        def counted(x, _name=name, _forward=forward):
            calls[_name] += len(x)
            return _forward(x)

        monkeypatch.setattr(net, "forward", counted)
    out = evaluator(generator())
    assert calls == {"digits-cnn": protocol.n_fake, "dinov2-vitl14": protocol.n_fake}
    assert out["fd_dinov2"] > 0 and np.isfinite(out["fd_dinov2"]) and out["fid"] > 0
    assert out["fd_dinov2"] != out["fid"]
    assert out["knn_precision"] is None and out["density"] is None  # not listed
    for network in evaluator.networks:  # one cached reference file per network
        assert reference_path(protocol, tiny_dinov2, network).is_file()
    record = out["protocol"]
    weights = tiny_dinov2 / "extractors" / dinov2.WEIGHTS_FILE
    assert record["networks"]["dinov2-vitl14"]["weights_sha256"] == file_sha256(weights)
    assert record["networks"]["dinov2-vitl14"]["resize"] == "pil-bicubic 32->224"
    assert record["networks"]["dinov2-vitl14"]["quantized"] is True
    assert record["networks"]["digits-cnn"]["resize"] == "none"
    assert record["metrics"]["fd_dinov2"] == {
        "network": "dinov2-vitl14",
        "n_fake": 350,
        "n_real": 350,
        "reference": "digits/test",
    }


def test_metric_records_name_ms_ssims_own_sample():
    record = protocol_for("celeba_hq_128").as_dict()["metrics"]
    assert record["ms_ssim"] == {"network": "inception-v3-compat", "n_fake": 320, "n_real": None,
                                 "reference": None}  # fmt: skip
    assert record["fid"]["n_fake"] == record["fid"]["n_real"] == 3000
    assert set(record) == {m for m in default_metrics() if METRICS[m].applies_to(
        protocol_for("celeba_hq_128"))}  # fmt: skip
