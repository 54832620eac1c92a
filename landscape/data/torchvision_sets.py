"""CIFAR-10, MNIST and Fashion-MNIST through torchvision (PAPER.md section 5)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from landscape.atomic import atomic_write
from landscape.data.base import (
    DATASETS,
    ImageData,
    declare,
    image_size,
    train_size,
)
from landscape.metrics.cache import default_cache_dir


def _torchvision(kind: str, name: str, folder: str, root: Path, split: str, download: bool):
    """torchvision's data set class ``kind`` (e.g. ``"CIFAR10"``) over ``root``; torchvision is
    imported here, on first load, not when the registry is read (it takes over a second)."""
    from torchvision import datasets

    try:
        return getattr(datasets, kind)(str(root), train=split == "train", download=download)
    except RuntimeError as error:
        raise FileNotFoundError(
            f"{name} ({split}) not found under {root / folder}. Either let torchvision download "
            f"it on a machine with internet access (`data_options: {{download: true}}` in the "
            f"study file, or `landscape train --data_options '{{\"download\": true}}'`), or put "
            f"the files torchvision expects in {root / folder} (or point the data root, "
            f"$LANDSCAPE_DATA or --data-root, where they are). torchvision said: {error}"
        ) from None


@DATASETS.register("cifar10")
@image_size(32)
@train_size(50_000)
def cifar10(root: Path, split: str, *, download: bool = False) -> ImageData:
    """CIFAR-10: 50,000 train / 10,000 test 32x32 RGB images; FID reference = test split."""
    data = _torchvision("CIFAR10", "cifar10", "cifar-10-batches-py", root, split, download)
    images = torch.from_numpy(np.ascontiguousarray(data.data)).permute(0, 3, 1, 2).contiguous()
    return ImageData("cifar10", split, images)


def _unpacked_root(root: Path, folder: str) -> Path:
    """torchvision reads MNIST's raw files uncompressed. When ``root`` holds only the canonical
    .gz files, unpack them once into landscape's cache ($LANDSCAPE_CACHE/unpacked), never into
    ``root`` nor beside it: a data root may be shared and read-only."""
    raw = root / folder / "raw"
    packed = sorted(raw.glob("*-ubyte.gz")) if raw.is_dir() else []
    if not packed or all(p.with_suffix("").exists() for p in packed):
        return root
    name = root.resolve().as_posix().strip("/").replace("/", "_")
    cache = default_cache_dir() / "unpacked" / name
    (cache / folder / "raw").mkdir(parents=True, exist_ok=True)
    for p in packed:
        target = cache / folder / "raw" / p.stem
        if not target.exists():  # workers may unpack at once: each its own temporary file
            with gzip.open(p) as src:
                atomic_write(target, lambda dst, src=src: shutil.copyfileobj(src, dst))
    return cache


def _mnist_like(
    kind: str, name: str, folder: str, root: Path, split: str, download: bool
) -> ImageData:
    data = _torchvision(kind, name, folder, _unpacked_root(root, folder), split, download)
    # 28x28 -> 32x32 by zero padding (2 px each side): the architectures need sizes
    # divisible by 8, and padding keeps the digits' pixels untouched.
    images = F.pad(data.data.unsqueeze(1), (2, 2, 2, 2))
    return ImageData(name, split, images.contiguous())


@DATASETS.register("mnist")
@image_size(32)
@train_size(60_000)
@declare(channels=1, test_size=10_000, padded_from=28)
def mnist(root: Path, split: str, *, download: bool = False) -> ImageData:
    """MNIST: 60,000 train / 10,000 test digits, 28x28 padded with zeros to 32x32, 1 channel."""
    return _mnist_like("MNIST", "mnist", "MNIST", root, split, download)


@DATASETS.register("fashion_mnist")
@image_size(32)
@train_size(60_000)
@declare(channels=1, test_size=10_000, padded_from=28)
def fashion_mnist(root: Path, split: str, *, download: bool = False) -> ImageData:
    """Fashion-MNIST: as MNIST (28x28 padded to 32x32, 1 channel)."""
    return _mnist_like("FashionMNIST", "fashion_mnist", "FashionMNIST", root, split, download)
