"""``dinov2-vitl14``: DINOv2 ViT-L/14 features as dgm-eval computes FD_DINOv2 (Stein et al.,
NeurIPS 2023), from a local weights file, without torch.hub.

dgm-eval's ``DINOv2Encoder`` (its default, ``clean_resize=False``) reads each image as an RGB
uint8 PIL image, resizes it with ``torchvision.transforms.Resize((224, 224), BICUBIC)`` (which
on a PIL image is PIL's own bicubic, a = -0.5, not torch's tensor bicubic, a = -0.75), divides
by 255, normalises with the ImageNet mean and std, and keeps the output of
``torch.hub.load("facebookresearch/dinov2", "dinov2_vitl14")``: the final-norm CLS token
(1024-d). The network is ViT-L/14 trained at 518 px; at 224 px its 37 x 37 position
embeddings are interpolated to 16 x 16 bicubically with DINOv2's ``interpolate_offset`` 0.1
(scale factor (16 + 0.1) / 37, no antialias), which :func:`interpolate_pos_embed` repeats.

The model definition is timm's ``vit_large_patch14_dinov2`` (same blocks, LayerScale,
LayerNorm eps 1e-6, exact GELU). Its parameter names are the official checkpoint's
(``dinov2_vitl14_pretrain.pth``: ``cls_token``, ``pos_embed``, ``patch_embed.proj.*``,
``blocks.<i>.{norm1, attn.qkv, attn.proj, ls1.gamma, norm2, mlp.fc1, mlp.fc2, ls2.gamma}.*``,
``norm.*``) one for one, except the checkpoint's ``mask_token`` (used only in DINOv2's
masked training), which is dropped: see :data:`DROPPED_KEYS`.

Fakes are rounded to uint8 first, as if saved as PNG files (dgm-eval reads image files); the
protocol records ``quantized: true`` for this network.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

from landscape.metrics.builtin import DINOV2 as NAME
from landscape.metrics.cache import EXTRACTORS_DIR

WEIGHTS_FILE = "dinov2_vitl14_pretrain.pth"
WEIGHTS_URL = f"https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/{WEIGHTS_FILE}"
TIMM_MODEL = "vit_large_patch14_dinov2"
DROPPED_KEYS = ("mask_token",)  # in the official checkpoint, not in the feature network
INPUT_SIZE = 224  # dgm-eval's Resize((224, 224))
PATCH = 14
INTERPOLATE_OFFSET = 0.1  # DINOv2's DinoVisionTransformer default (hub models keep it)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FEATURE = "cls"
RESIZE = "pil-bicubic"  # the resize path's name in the protocol (landscape.evaluation.resize)


class DinoV2WeightsMissing(FileNotFoundError):
    """The DINOv2 ViT-L/14 checkpoint is not where the extractor looks for it."""


def vit(**overrides) -> nn.Module:
    """timm's DINOv2 ViT-L/14 (518 px position grid, no head), randomly initialised;
    ``overrides`` (e.g. ``embed_dim=32, depth=2, num_heads=2``) make smaller stand-ins."""
    import timm

    return timm.create_model(TIMM_MODEL, pretrained=False, num_classes=0, **overrides)


def weights_missing(path: Path) -> DinoV2WeightsMissing:
    return DinoV2WeightsMissing(
        f"the DINOv2 ViT-L/14 weights {WEIGHTS_FILE} (for FD_DINOv2, network {NAME!r}) are not "
        f"at {path}. Download {WEIGHTS_URL} (Meta's official checkpoint, 1.2 GB, the one "
        f"torch.hub's facebookresearch/dinov2 'dinov2_vitl14' loads) on a machine with internet "
        f"access and copy it to {path} (the folder is <cache>/{EXTRACTORS_DIR}, <cache> being "
        f"$LANDSCAPE_CACHE or ~/.cache/landscape). Or leave fd_dinov2 out of the study's "
        f"evaluation: metrics list."
    )


def load_weights(model: nn.Module, path: str | Path) -> None:
    """Load the official checkpoint (or a state dict with the same keys) into ``model``."""
    path = Path(path)
    if not path.is_file():
        raise weights_missing(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if k not in DROPPED_KEYS}
    model.load_state_dict(state, strict=True)


def interpolate_pos_embed(pos_embed: Tensor, grid: int) -> Tensor:
    """DINOv2's ``interpolate_pos_encoding`` for a square ``grid`` x ``grid`` of patches."""
    n = pos_embed.shape[1] - 1
    m = int(round(n**0.5))
    if m * m != n:
        raise ValueError(f"position embeddings of {n} patches are not a square grid")
    if grid == m:
        return pos_embed
    cls, patches = pos_embed[:, :1], pos_embed[:, 1:].float()
    scale = (grid + INTERPOLATE_OFFSET) / m
    patches = F.interpolate(
        patches.reshape(1, m, m, -1).permute(0, 3, 1, 2),
        scale_factor=(scale, scale),
        mode="bicubic",
        antialias=False,
    )
    if patches.shape[-2:] != (grid, grid):
        raise ValueError(f"interpolated to {tuple(patches.shape[-2:])}, not {grid} x {grid}")
    patches = patches.permute(0, 2, 3, 1).reshape(1, grid * grid, -1).to(pos_embed.dtype)
    return torch.cat([cls, patches], dim=1)


def cls_features(model: nn.Module, x: Tensor) -> Tensor:
    """The final-norm CLS token of ``model`` (timm's ViT) on normalised images, DINOv2's way."""
    tokens = model.patch_embed.proj(x).flatten(2).transpose(1, 2)  # (B, patches, D)
    tokens = torch.cat([model.cls_token.expand(len(x), -1, -1), tokens], dim=1)
    tokens = tokens + interpolate_pos_embed(model.pos_embed, x.shape[-1] // PATCH)
    return model.norm(model.blocks(tokens))[:, 0]


def pil_bicubic(images: Tensor, size: int = INPUT_SIZE) -> Tensor:
    """uint8 (B, 3, H, W) -> float (B, 3, size, size) in [0, 255], each image resized by PIL's
    bicubic on its uint8 RGB image, as ``torchvision.transforms.Resize`` does on a PIL image."""
    if images.dtype != torch.uint8:
        raise TypeError(f"PIL resizing takes uint8 images, got {images.dtype}")
    out = []
    for image in images.permute(0, 2, 3, 1).cpu().numpy():
        pil = Image.fromarray(np.ascontiguousarray(image), mode="RGB")
        out.append(np.asarray(pil.resize((size, size), resample=Image.BICUBIC)))
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float()


class FeatureExtractorDinoV2(FeatureExtractorBase):
    """torch-fidelity extractor ``dinov2-vitl14``: uint8 Bx3xHxW -> the 1024-d CLS feature.

    ``feature_extractor_weights_path`` is the official checkpoint (required: there is no
    download); ``vit_overrides`` build a smaller ViT of the same design (tests), whose weights
    then come from ``feature_extractor_weights_path`` too, or are random when
    ``random_weights`` is set.
    """

    RESIZE = RESIZE
    INPUT_SIZE = INPUT_SIZE

    def __init__(
        self,
        name: str,
        features_list,
        feature_extractor_weights_path: str | Path | None = None,
        *,
        vit_overrides: dict | None = None,
        random_weights: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(name, features_list)
        self.model = vit(**(vit_overrides or {}))
        self.weights_path: Path | None = None
        if not random_weights:
            if feature_extractor_weights_path is None:
                raise ValueError(f"{name}: give feature_extractor_weights_path ({WEIGHTS_FILE})")
            self.weights_path = Path(feature_extractor_weights_path)
            load_weights(self.model, self.weights_path)
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        self.requires_grad_(False)
        self.eval()

    def preprocess(self, x: Tensor) -> Tensor:
        """uint8 images -> the network's input: PIL bicubic to 224, ImageNet-normalised."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"{self.name} expects Bx3xHxW uint8 images, got {tuple(x.shape)}")
        x = pil_bicubic(x, self.INPUT_SIZE).to(self.mean.device)
        return (x - self.mean) / self.std  # = Normalize(mean, std) of ToTensor()'s x / 255

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        features = {FEATURE: cls_features(self.model, self.preprocess(x)).float()}
        return tuple(features[name] for name in self.features_list)

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return (FEATURE,)

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return FEATURE  # one feature for every metric (torch-fidelity's DINOv2 does the same)

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> Tensor:
        return torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE, dtype=torch.uint8)


FEATURE_EXTRACTOR = FeatureExtractorDinoV2


def register() -> None:
    """Register ``dinov2-vitl14`` with torch-fidelity (idempotent)."""
    if FEATURE_EXTRACTORS_REGISTRY.get(NAME) is not FeatureExtractorDinoV2:
        register_feature_extractor(NAME, FeatureExtractorDinoV2)
