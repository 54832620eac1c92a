"""CIFAR-10, MNIST and Fashion-MNIST through torchvision (PAPER.md section 5)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torchvision import datasets as tvd

from landscape.data.base import DATASETS, ImageData


def _torchvision(cls, name: str, folder: str, root: Path, split: str, download: bool):
    try:
        return cls(str(root), train=split == "train", download=download)
    except RuntimeError as error:
        raise FileNotFoundError(
            f"{name} ({split}) not found under {root / folder}. Either run with download enabled "
            f"on a machine with internet access (`download: true` in the study file, or "
            f"`--download`), or place the files torchvision expects there (for {name}: "
            f"{folder}/ as torchvision downloads it) and point the data root at {root}. "
            f"torchvision said: {error}"
        ) from None


@DATASETS.register("cifar10")
def cifar10(root: Path, split: str, *, download: bool = False) -> ImageData:
    """CIFAR-10: 50,000 train / 10,000 test 32x32 RGB images; FID reference = test split."""
    data = _torchvision(tvd.CIFAR10, "cifar10", "cifar-10-batches-py", root, split, download)
    images = torch.from_numpy(np.ascontiguousarray(data.data)).permute(0, 3, 1, 2).contiguous()
    return ImageData("cifar10", split, images)


def _unpack_mnist_gz(root: Path, folder: str) -> None:
    """torchvision reads MNIST's raw files uncompressed; unpack the canonical .gz files."""
    raw = root / folder / "raw"
    for packed in raw.glob("*-ubyte.gz") if raw.is_dir() else []:
        target = packed.with_suffix("")
        if not target.exists():
            try:
                with gzip.open(packed) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            except OSError:  # a read-only copy: torchvision's error below says what is missing
                target.unlink(missing_ok=True)
                return


def _mnist_like(cls, name: str, folder: str, root: Path, split: str, download: bool) -> ImageData:
    _unpack_mnist_gz(root, folder)
    data = _torchvision(cls, name, folder, root, split, download)
    # 28x28 -> 32x32 by zero padding (2 px each side): the architectures need sizes
    # divisible by 8, and padding keeps the digits' pixels untouched.
    images = F.pad(data.data.unsqueeze(1), (2, 2, 2, 2))
    return ImageData(name, split, images.contiguous())


@DATASETS.register("mnist")
def mnist(root: Path, split: str, *, download: bool = False) -> ImageData:
    """MNIST: 60,000 train / 10,000 test digits, 28x28 padded with zeros to 32x32, 1 channel."""
    return _mnist_like(tvd.MNIST, "mnist", "MNIST", root, split, download)


@DATASETS.register("fashion_mnist")
def fashion_mnist(root: Path, split: str, *, download: bool = False) -> ImageData:
    """Fashion-MNIST: as MNIST (28x28 padded to 32x32, 1 channel)."""
    return _mnist_like(tvd.FashionMNIST, "fashion_mnist", "FashionMNIST", root, split, download)
