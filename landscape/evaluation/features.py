"""Running a feature extractor over images held in memory (no PNG round trip)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import Tensor
from torch_fidelity.feature_extractor_base import FeatureExtractorBase

from landscape.train.precision import float32_mode


def extractor_input(images: Tensor, *, quantize: bool = False) -> Tensor:
    """Images in [0, 255] (uint8, or float and unquantized) as extractors take them: 3 channels
    (grayscale tiled, as compare_gan does for MNIST, PAPER.md 5), uint8 only if ``quantize``."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected (B, 1 or 3, H, W) images, got {tuple(images.shape)}")
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    if quantize and images.dtype != torch.uint8:
        images = images.round().clamp(0, 255).to(torch.uint8)
    elif not quantize:
        images = images.float()
    return images


@torch.no_grad()
# Every feature, of fakes, of a reference or of a floor, in strict float32: no TF32, whatever
# the run's precision (a cached reference must be computed the way the fakes are).
@float32_mode("fp32")
def extract(
    extractor: FeatureExtractorBase,
    batches: Iterable[Tensor],
    *,
    device: str | torch.device = "cpu",
    quantize: bool = False,
) -> dict[str, Tensor]:
    """Feature name -> (N, D) float32 CPU tensor, for every image of every batch, in order."""
    parts: dict[str, list[Tensor]] = {}
    for batch in batches:
        x = extractor_input(batch.to(device), quantize=quantize)
        out = extractor.convert_features_tuple_to_dict(extractor(x))
        for name, value in out.items():
            parts.setdefault(name, []).append(value.float().cpu())
    if not parts:
        raise ValueError("no images to extract features from")
    return {name: torch.cat(values) for name, values in parts.items()}


@torch.no_grad()
@float32_mode("fp32")
def extract_each(
    extractors: Mapping[str, tuple[FeatureExtractorBase, bool]],
    batches: Iterable[Tensor],
    *,
    device: str | torch.device = "cpu",
) -> dict[str, dict[str, Tensor]]:
    """Like :func:`extract` for several networks at once (name -> (extractor, quantize)): every
    batch goes through each network as it comes, so the images are made and held once."""
    parts: dict[str, dict[str, list[Tensor]]] = {name: {} for name in extractors}
    for batch in batches:
        batch = batch.to(device)
        for name, (extractor, quantize) in extractors.items():
            x = extractor_input(batch, quantize=quantize)
            out = extractor.convert_features_tuple_to_dict(extractor(x))
            for layer, value in out.items():
                parts[name].setdefault(layer, []).append(value.float().cpu())
    if not any(parts.values()):
        raise ValueError("no images to extract features from")
    return {
        name: {layer: torch.cat(values) for layer, values in layers.items()}
        for name, layers in parts.items()
    }
