"""The ``DATASETS`` registry and the in-memory image set every loader returns.

A data set entry is ``DATASETS[name](root, split, *, download=False, **options) -> ImageData``;
its keyword-only parameters are the options a study's ``data_options`` may set (checked when
the study is read), and ``@train_size(n)`` declares its train split's size without loading it.
Images are kept as one uint8 tensor (N, C, H, W) in [0, 255] — CIFAR-10 is 150 MB this way —
and scaled to the [0, 1] range every architecture takes (PAPER.md 4.1) one batch at a time.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from landscape.registry import Registry

DATASETS: Registry = Registry("data set")

SPLITS = ("train", "test")


@dataclass(frozen=True)
class ImageData:
    """A split of a data set: a uint8 tensor in memory, or images decoded from their files
    when indexed (``FolderImages``, for sets too large for memory)."""

    name: str
    split: str
    images: Tensor  # uint8, (N, C, H, W), or anything indexed like it

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(
                f"{self.name}: images must be uint8 (N, C, H, W), got "
                f"{self.images.dtype} {tuple(self.images.shape)}"
            )

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def resolution(self) -> int:
        return self.images.shape[-1]


def image_size(size: int):
    """Declare the side of the square images a data set yields (checked before a study runs)."""

    def declare(builder):
        builder.image_size = size
        return builder

    return declare


def resolution_of(name: str, options: dict | None = None) -> int | None:
    """The image size of data set ``name`` with ``options``, when known without loading it."""
    builder = DATASETS[name]
    return (options or {}).get("resolution", getattr(builder, "image_size", None))


def train_size(n: int):
    """Declare how many images a data set's train split holds, so that a study asking for a
    larger batch is refused before anything runs."""

    def declare(builder):
        builder.train_size = n
        return builder

    return declare


def declare(**facts: object):
    """Declare other facts of a data set, known without loading it, where the code that needs
    them reads them (never a table of data set names elsewhere): ``channels`` (default 3),
    ``test_size`` (images in the test split, which caps an evaluation's real images) and
    ``padded_from`` (the native side when the images are zero-padded to ``image_size``)."""

    def add(builder):
        for key, value in facts.items():
            setattr(builder, key, value)
        return builder

    return add


def fact_of(name: str, key: str, default: object = None) -> object:
    """A declared fact of data set ``name`` (``declare``), or ``default`` (also for a name no
    data set is registered under)."""
    return getattr(DATASETS[name], key, default) if name in DATASETS else default


def train_size_of(name: str) -> int | None:
    """The train split's size of data set ``name`` when declared (None: unknown)."""
    return getattr(DATASETS[name], "train_size", None)


def loader_options(name: str) -> dict[str, object] | None:
    """The options (``data_options``) data set ``name`` accepts, with their defaults: the
    keyword-only parameters of its loader. None when the loader takes any (``**options``)."""
    params = inspect.signature(DATASETS[name]).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name: p.default for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}


def default_root() -> Path:
    """Where data sets live unless told otherwise: $LANDSCAPE_DATA or ~/.cache/landscape/data."""
    return Path(os.environ.get("LANDSCAPE_DATA", Path.home() / ".cache" / "landscape" / "data"))


def check_split(name: str, split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"{name}: unknown split {split!r}; choose from: {', '.join(SPLITS)}")


def to_unit_range(batch: Tensor) -> Tensor:
    """uint8 [0, 255] -> float [0, 1], the range of real images in compare_gan (x / 255)."""
    return batch.float().div_(255)


def load(name: str, split: str = "train", root: str | Path | None = None, **options) -> ImageData:
    """Load split ``split`` of data set ``name`` (an unknown name lists the valid ones)."""
    builder = DATASETS[name]
    check_split(name, split)
    return builder(Path(root) if root is not None else default_root(), split, **options)
