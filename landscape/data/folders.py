"""Data sets read from a folder of image files: LSUN-Bedroom, any folder (CelebA-HQ-128 is in
``celeba_hq.py``)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from landscape.data.base import DATASETS, ImageData, image_size

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}


def image_files(folder: Path, how_to_get: str) -> list[Path]:
    """Every image under ``folder`` in sorted (file) order; a clear error when there is none."""
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist. {how_to_get}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(
            f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {folder}. {how_to_get}"
        )
    return files


def center_crop_or_pad(image: Image.Image, size: int) -> Image.Image:
    """``tf.image.resize_image_with_crop_or_pad``: central crop (or zero pad) to size x size."""
    w, h = image.size
    left, top = _offset(w, size), _offset(h, size)
    return image.crop((left, top, left + size, top + size))  # PIL pads outside with zeros


def _offset(side: int, size: int) -> int:
    """Where the crop starts: TF crops (side - size) // 2 off the start of a larger side and
    pads (size - side) // 2 before a smaller one (not -((side - size) // 2), off by one when
    the difference is odd)."""
    return (side - size) // 2 if side >= size else -((size - side) // 2)


def resize_square(image: Image.Image, size: int) -> Image.Image:
    """Central square crop, then an antialiased resize to size x size."""
    w, h = image.size
    side = min(w, h)
    image = image.crop(((w - side) // 2, (h - side) // 2, (w + side) // 2, (h + side) // 2))
    return image if side == size else image.resize((size, size), Image.Resampling.LANCZOS)


def decode(file: Path, size: int, channels: int, crop_only: bool) -> np.ndarray:
    """One image as uint8 (size, size, channels): central crop (or pad), or crop and resize."""
    with Image.open(file) as img:
        img = img.convert("L" if channels == 1 else "RGB")
        img = center_crop_or_pad(img, size) if crop_only else resize_square(img, size)
        return np.asarray(img).reshape(size, size, channels)


def stack(files: list[Path], size: int, channels: int, crop_only: bool) -> torch.Tensor:
    arrays = [decode(f, size, channels, crop_only) for f in files]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


class FolderImages:
    """uint8 images (N, C, H, W) decoded from their files when indexed, for sets too large to
    hold in memory (LSUN-Bedroom's 3M images). Indexing with a tensor, list or slice decodes
    those images (several threads); the training loop moves each batch to its device."""

    dtype = torch.uint8
    device = torch.device("cpu")

    def __init__(
        self, files: list[Path], size: int, channels: int, crop_only: bool, threads: int = 8
    ) -> None:
        self.files, self.size, self.channels, self.crop_only = files, size, channels, crop_only
        self.pool = ThreadPoolExecutor(threads)

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self.files), self.channels, self.size, self.size))

    def dim(self) -> int:
        return 4

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index) -> torch.Tensor:
        if isinstance(index, int):
            return self[[index]][0]
        picks = range(len(self))[index] if isinstance(index, slice) else torch.as_tensor(index)
        files = [self.files[int(i)] for i in picks]
        args = (self.size, self.channels, self.crop_only)
        arrays = list(self.pool.map(lambda f: decode(f, *args), files))
        return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()

    def to(self, device) -> FolderImages:
        return self  # decoded per batch, on the CPU


def require_size(files: list[Path], size: int, how_to_make: str) -> None:
    """Refuse a folder holding an image that is not size x size (read from the headers)."""
    for file in files:
        with Image.open(file) as img:
            if img.size != (size, size):
                w, h = img.size
                raise ValueError(
                    f"{file} is {w}x{h}, but this data set holds {size}x{size} images; "
                    f"{how_to_make}"
                )


def split_files(files: list[Path], split: str, test_fraction: float) -> list[Path]:
    """The last ``test_fraction`` of the files in sorted order are the test split."""
    n_test = max(1, round(len(files) * test_fraction))
    return files[-n_test:] if split == "test" else files[:-n_test]


@DATASETS.register("lsun_bedroom")
@image_size(128)
def lsun_bedroom(root: Path, split: str, *, download: bool = False) -> ImageData:
    """LSUN-Bedroom: the central 128x128 crop of each image at its native resolution, no
    downscaling (compare_gan's ``resize_image_with_crop_or_pad(128)``, PAPER.md 5 and pitfall
    9). The last 1% of the files in sorted order are the test split (compare_gan: shard 99)."""
    how = (
        "Download bedroom_train_lmdb from the LSUN page (github.com/fyu/lsun, download.py "
        "-c bedroom), export it to image files with that repository's data.py export, and "
        f"put them in {root / 'lsun_bedroom'}."
    )
    files = split_files(image_files(root / "lsun_bedroom", how), split, 0.01)
    # 3M images at 128x128 are 147 GB: decoded batch by batch instead of held in memory
    return ImageData("lsun_bedroom", split, FolderImages(files, 128, 3, crop_only=True))


@DATASETS.register("image_folder")
@image_size(32)
def image_folder(
    root: Path,
    split: str,
    *,
    download: bool = False,
    path: str = "",
    resolution: int = 32,
    channels: int = 3,
) -> ImageData:
    """Any folder of images, center-cropped to a square and resized to ``resolution``.

    ``path/train`` and ``path/test`` are the splits when both exist; otherwise the last 10% of
    the files in sorted order are the test split. ``path`` is relative to the data root.
    """
    if not path:
        raise ValueError("image_folder needs a `path` option: the folder of images")
    folder = root / path
    if (folder / "train").is_dir() and (folder / "test").is_dir():
        files = image_files(folder / split, "")
    else:
        files = split_files(image_files(folder, "Put image files there."), split, 0.1)
    return ImageData(f"image_folder:{path}", split, stack(files, resolution, channels, False))
