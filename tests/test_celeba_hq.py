"""CelebA-HQ-128 as the paper made it (issue 13.2): PGGAN's box filter, CelebA-HQ order, the
3K test split, and a loader that refuses images of another size; LSUN's TF crop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from landscape.cli import main
from landscape.data import load
from landscape.data.celeba_hq import box_downsample, build_celeba_hq
from landscape.data.folders import center_crop_or_pad


def numpy_box_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """The k x k block mean in float64, rounded half to even as PGGAN's np.rint does."""
    h, w, c = image.shape
    blocks = image.astype(np.float64).reshape(h // factor, factor, w // factor, factor, c)
    return np.rint(blocks.mean(axis=(1, 3))).astype(np.uint8)


def write_sources(folder: Path, names: list[str], side: int, seed: int = 0) -> dict:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    images = {}
    for name in names:
        images[name] = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        Image.fromarray(images[name]).save(folder / name)
    return images


def test_builder_is_the_8x8_box_mean_of_1024_images_in_celeba_hq_order(tmp_path, capsys):
    sources = write_sources(tmp_path / "hq", ["10.png", "2.png", "1.png"], 1024)
    code = main(["build-celeba-hq", str(tmp_path / "hq"), str(tmp_path / "out"), "--jobs", "2"])
    assert code == 0 and "wrote 3 128x128 images" in capsys.readouterr().out
    order = ["1.png", "2.png", "10.png"]  # the numbers' order, not the strings'
    for i, name in enumerate(order):
        built = np.asarray(Image.open(tmp_path / "out" / f"{i:05d}.png"))
        expected = numpy_box_mean(sources[name], 8)
        assert built.shape == (128, 128, 3) and built.dtype == np.uint8
        assert np.array_equal(built, expected)
    lines = (tmp_path / "out" / "SOURCES.txt").read_text().splitlines()
    assert lines == [f"{i:05d}.png\t{n}" for i, n in enumerate(order)]


def test_box_filter_rounds_half_to_even_once_after_float_means():
    image = np.zeros((1024, 1024, 3), np.uint8)
    image[:8, :8, 0] = [[255] * 4 + [0] * 4] * 8  # block mean 127.5 -> 128 (even)
    image[:8, 8:16, 0] = 1
    image[0, 8:16, 0] = 0  # mean 56/64 = 0.875 -> 1
    image[:8, 16:24, 0] = np.arange(64).reshape(8, 8) % 2 * 5  # 2.5 -> 2 (even)
    cells = [(0, 0), (0, 1), (1, 0), (1, 1), (0, 2), (0, 3), (1, 2), (2, 0), (2, 1), (3, 0)]
    for r, c in cells:  # ten 2x2 cells of mean 0.75: 30/64 = 0.47 -> 0, once at the end
        image[2 * r : 2 * r + 2, 24 + 2 * c : 26 + 2 * c, 0] = [[1, 1], [1, 0]]
    # rounding at every level instead: cells 1; quarters 1, 1, 1, 0 (0.75); block 1
    out = box_downsample(image)
    assert out[0, :4, 0].tolist() == [128, 1, 2, 0]
    assert np.array_equal(out, numpy_box_mean(image, 8))


@pytest.mark.parametrize("side", [1000, 384])
def test_builder_refuses_sizes_that_are_not_128_times_a_power_of_two(side):
    with pytest.raises(ValueError, match=f"128 times a power of two .* got {side}x{side}"):
        box_downsample(np.zeros((side, side, 3), np.uint8))


def test_built_folder_loads_with_the_last_tenth_as_the_test_split(tmp_path):
    names = [f"imgHQ{i:05d}.png" for i in range(20)]
    sources = write_sources(tmp_path / "hq", names, 256)
    build_celeba_hq(tmp_path / "hq", tmp_path / "data" / "celeba_hq_128", jobs=1)
    test = load("celeba_hq_128", "test", root=tmp_path / "data")
    train = load("celeba_hq_128", "train", root=tmp_path / "data")
    assert (len(train), len(test)) == (18, 2)  # 30,000 -> 27,000 + 3,000
    for j, name in enumerate(names[18:]):
        expected = numpy_box_mean(sources[name], 2)
        assert np.array_equal(test.images[j].permute(1, 2, 0).numpy(), expected)


def test_loader_refuses_images_that_are_not_128_and_says_how_to_make_them(tmp_path):
    write_sources(tmp_path / "celeba_hq_128", [f"{i:05d}.png" for i in range(10)], 128)
    Image.new("RGB", (100, 100)).save(tmp_path / "celeba_hq_128" / "00003.png")
    with pytest.raises(ValueError, match="00003.png is 100x100") as info:
        load("celeba_hq_128", "train", root=tmp_path)
    assert f"landscape build-celeba-hq SRC {tmp_path / 'celeba_hq_128'}" in str(info.value)


@pytest.mark.parametrize(
    ("width", "height", "left", "top"),
    [(201, 150, 36, 11), (150, 301, 11, 86), (256, 129, 64, 0), (128, 128, 0, 0)],
)
def test_lsun_crop_is_central_at_native_resolution_on_non_square_images(
    tmp_path, width, height, left, top
):
    """tf.image.resize_image_with_crop_or_pad: the crop starts at (side - 128) // 2."""
    ys, xs = np.mgrid[:height, :width]
    image = np.stack([xs % 256, ys % 256, (xs // 256) * 100 + ys // 256], -1).astype(np.uint8)
    folder = tmp_path / "lsun_bedroom"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(image).save(folder / f"{i}.png")
    crop = load("lsun_bedroom", "test", root=tmp_path).images[0].permute(1, 2, 0).numpy()
    assert crop.shape == (128, 128, 3)
    assert (int(crop[0, 0, 0]), int(crop[0, 0, 1])) == (left, top)  # the first pixel's x, y
    assert np.array_equal(crop, image[top : top + 128, left : left + 128])


@pytest.mark.parametrize(("side", "before"), [(99, 14), (100, 14), (127, 0)])
def test_smaller_sides_are_padded_as_tensorflow_pads(side, before):
    """TF pads (128 - side) // 2 zeros before: 14 for 99 (not 15), 14 for 100, 0 for 127."""
    out = np.asarray(center_crop_or_pad(Image.new("L", (side, side), 200), 128))
    row = out[64]
    assert row[:before].max(initial=0) == 0 and row[before] == 200
    assert row[before + side - 1] == 200 and row[before + side :].max(initial=0) == 0
