"""CelebA-HQ-128 as the paper made it (PAPER.md 5): the 1024x1024 CelebA-HQ images reduced
with progressive GAN's box filter, in CelebA-HQ's own order.

PGGAN's ``dataset_tool.py`` (``TFRecordExporter.add_image``) makes each lower resolution by
averaging 2x2 blocks in float32, carrying the unrounded floats from level to level, and rounds
(``np.rint``, half to even) only the level it writes: 1024 -> 128 is the 8x8 box mean, rounded
once. compare_gan read the 128x128 level, sharded in order: shards 0-89 (images 0-26,999)
are the training split, shards 90-99 (images 27,000-29,999, **3,000**) the test split that
FID uses. The folder written here keeps that order in its file names (``00000.png`` ...
``29999.png``), so the loader's rule "the last 10% in sorted order are the test split" picks
exactly images 27,000-29,999.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from landscape.atomic import atomic_path, atomic_write_bytes
from landscape.data.base import DATASETS, ImageData, declare, image_size
from landscape.data.folders import IMAGE_SUFFIXES, image_files, require_size, split_files, stack

SIZE = 128
TEST_FRACTION = 0.1  # 3,000 of 30,000: compare_gan's shards 90-99


def build_hint(folder: Path | str = "<data root>/celeba_hq_128") -> str:
    return (
        "build it from the 1024x1024 CelebA-HQ images (PGGAN's dataset_tool.py "
        f"create_celebahq) with `landscape build-celeba-hq SRC {folder}`"
    )


def box_downsample(image: np.ndarray, size: int = SIZE) -> np.ndarray:
    """(H, H, C) uint8 -> (size, size, C) uint8 by PGGAN's repeated 2x2 float32 means and one
    final rint; H must be ``size`` times a power of two."""
    h, w = image.shape[:2]
    factor = h // size
    if h != w or h % size or factor & (factor - 1):
        raise ValueError(
            f"expected a square image whose side is {size} times a power of two "
            f"(CelebA-HQ: 1024x1024), got {w}x{h}"
        )
    img = image
    while img.shape[0] > size:
        img = img.astype(np.float32)
        img = (img[0::2, 0::2] + img[0::2, 1::2] + img[1::2, 0::2] + img[1::2, 1::2]) * 0.25
    return np.rint(img).clip(0, 255).astype(np.uint8)


def natural_key(path: Path) -> list:
    """Sort key in which ``2.jpg`` comes before ``10.jpg`` (CelebA-HQ is often numbered
    without zero padding; its order is the order of the numbers)."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path.as_posix())]


def source_images(src: Path) -> list[Path]:
    if not src.is_dir():
        raise FileNotFoundError(f"source folder {src} does not exist")
    files = sorted(
        (p for p in src.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES | {".npy"}),
        key=lambda p: natural_key(p.relative_to(src)),
    )
    if not files:
        raise FileNotFoundError(f"no images (.png, .jpg, .npy, ...) under {src}")
    return files


def read_image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 from an image file or a PGGAN ``.npy`` ((1,) 3, H, W) array."""
    if path.suffix.lower() == ".npy":
        array = np.load(path)
        array = array.reshape(array.shape[-3:])
        return np.ascontiguousarray(array.transpose(1, 2, 0)).astype(np.uint8)
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def build_celeba_hq(
    src: Path,
    dst: Path,
    *,
    size: int = SIZE,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write ``dst/00000.png`` ... one per source image (in natural sorted order), reduced to
    ``size`` by :func:`box_downsample`, and ``dst/SOURCES.txt`` naming each one's source.
    Images already written are kept, so an interrupted build continues."""
    files = source_images(Path(src))
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    width = max(5, len(str(len(files) - 1)))
    outputs = [dst / f"{i:0{width}d}.png" for i in range(len(files))]

    def one(i: int) -> None:
        if outputs[i].exists():
            return
        try:
            small = box_downsample(read_image(files[i]), size)
        except ValueError as error:
            raise ValueError(f"{files[i]}: {error}") from None
        with atomic_path(outputs[i]) as temp:
            Image.fromarray(small).save(temp, format="PNG")

    with ThreadPoolExecutor(jobs or os.cpu_count() or 1) as pool:
        for done, _ in enumerate(pool.map(one, range(len(files))), 1):
            if progress:
                progress(done, len(files))
    lines = [f"{o.name}\t{f.relative_to(src)}" for o, f in zip(outputs, files, strict=True)]
    atomic_write_bytes(dst / "SOURCES.txt", ("\n".join(lines) + "\n").encode())
    return outputs


@DATASETS.register("celeba_hq_128")
@image_size(SIZE)
@declare(test_size=3_000)  # the paper's 3K test images (docs/reproduce.md)
def celeba_hq_128(root: Path, split: str, *, download: bool = False) -> ImageData:
    """CelebA-HQ at 128x128 (Karras et al. 2018): 30,000 faces; the last 3,000 in file order
    are the test split (compare_gan's shards 90-99). Images that are not 128x128 are refused:
    resizing them here would not be the paper's box filter."""
    folder = root / "celeba_hq_128"
    how = f"CelebA-HQ cannot be downloaded automatically: {build_hint(folder)}."
    files = split_files(image_files(folder, how), split, TEST_FRACTION)
    require_size(files, SIZE, build_hint(folder))
    return ImageData("celeba_hq_128", split, stack(files, SIZE, 3, crop_only=True))
