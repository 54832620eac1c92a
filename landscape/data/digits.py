"""scikit-learn's bundled 8x8 digits, resized to 32x32 grayscale: the offline default."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from landscape.data.base import DATASETS, ImageData, declare, image_size, train_size

DIGITS_SPLIT_SEED = 0  # fixed permutation: 80% train (1438 images), 20% test (359)
DIGITS_TEST_FRACTION = 0.2


def digits_arrays(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(images in [0, 16] as float (N, 1, 8, 8), labels) of one split of sklearn's digits."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    order = torch.randperm(
        len(bunch.target), generator=torch.Generator().manual_seed(DIGITS_SPLIT_SEED)
    )
    n_test = round(len(order) * DIGITS_TEST_FRACTION)
    index = order[n_test:] if split == "train" else order[:n_test]
    images = torch.as_tensor(bunch.images, dtype=torch.float32)[index].unsqueeze(1)
    return images, torch.as_tensor(bunch.target)[index]


@DATASETS.register("digits")
@image_size(32)
@train_size(1438)
@declare(channels=1, test_size=359)
def digits(root: Path, split: str, *, download: bool = False, resolution: int = 32) -> ImageData:
    """The 1,797 handwritten digits that ship with scikit-learn (no download, no ``root``).

    8x8 images with values 0..16, upsampled bilinearly to ``resolution`` and scaled to 0..255.
    """
    images, _ = digits_arrays(split)
    big = F.interpolate(images, size=resolution, mode="bilinear", align_corners=False)
    return ImageData("digits", split, (big * (255 / 16)).round().clamp(0, 255).to(torch.uint8))
