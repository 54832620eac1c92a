"""Data sets: real CIFAR-10 and MNIST from ../shared/data, digits, folders, clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from landscape.data import DATASETS, load, to_unit_range
from landscape.data.folders import center_crop_or_pad

# ../shared/data beside the checkout (or beside the folder of worktrees holding it)
_CANDIDATES = [parent / "shared" / "data" for parent in Path(__file__).resolve().parents[2:4]]
SHARED = next((c for c in _CANDIDATES if c.is_dir()), _CANDIDATES[0])


def needs(folder: str):
    return pytest.mark.skipif(
        not (SHARED / folder).is_dir(), reason=f"real data not found at {SHARED / folder}"
    )


@needs("cifar-10-batches-py")
def test_cifar10_sizes_range_and_known_mean():
    train, test = load("cifar10", "train", root=SHARED), load("cifar10", "test", root=SHARED)
    assert train.images.shape == (50_000, 3, 32, 32) and test.images.shape == (10_000, 3, 32, 32)
    assert train.images.dtype == torch.uint8
    assert train.images.float().mean().item() == pytest.approx(120.71, abs=0.01)
    unit = to_unit_range(train.images[:64])
    assert 0 <= unit.min() and unit.max() <= 1 and unit.max() > 0.99


@needs("MNIST")
def test_mnist_from_the_canonical_gz_files(tmp_path, monkeypatch):
    monkeypatch.setenv("LANDSCAPE_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "data"
    shutil.copytree(SHARED / "MNIST", root / "MNIST")
    train, test = load("mnist", "train", root=root), load("mnist", "test", root=root)
    assert train.images.shape == (60_000, 1, 32, 32) and len(test) == 10_000
    # padded 28 -> 32 with zeros: the border is empty and the digits keep MNIST's mean
    assert train.images[:, :, :2].max() == 0 and train.images[:, :, :, -2:].max() == 0
    assert train.images[:, :, 2:30, 2:30].float().mean().item() == pytest.approx(33.32, abs=0.01)


def test_mnist_never_writes_into_a_read_only_root(tmp_path, monkeypatch):
    if not (SHARED / "MNIST").is_dir():
        pytest.skip(f"real data not found at {SHARED / 'MNIST'}")
    monkeypatch.setenv("LANDSCAPE_CACHE", str(tmp_path))
    monkeypatch.setenv("LANDSCAPE_DATA", str(SHARED))  # as the evidence study runs
    before = sorted(p.name for p in (SHARED / "MNIST" / "raw").iterdir())
    assert len(load("mnist", "test", root=SHARED)) == 10_000
    assert sorted(p.name for p in (SHARED / "MNIST" / "raw").iterdir()) == before


def test_two_workers_unpacking_mnist_at_once_both_succeed(tmp_path, monkeypatch):
    """CI failure: two workers of one study unpacked the same .gz into one shared ``.partial``
    file; the first renamed it away and the second died. Here a second worker runs the whole
    unpack while the first is half-way through its copy."""
    import gzip

    from landscape.data import torchvision_sets

    monkeypatch.setenv("LANDSCAPE_CACHE", str(tmp_path / "cache"))
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    payload = {n: bytes(range(256)) * (i + 7) for i, n in enumerate(["a-ubyte", "b-ubyte"])}
    for name, data in payload.items():
        (raw / f"{name}.gz").write_bytes(gzip.compress(data))
    copy, interrupted = shutil.copyfileobj, []

    def copy_while_another_worker_unpacks(src, dst, *args):
        if not interrupted:
            interrupted.append(True)
            torchvision_sets._unpacked_root(tmp_path / "data", "MNIST")
        copy(src, dst, *args)

    monkeypatch.setattr(torchvision_sets.shutil, "copyfileobj", copy_while_another_worker_unpacks)
    cache = torchvision_sets._unpacked_root(tmp_path / "data", "MNIST")
    assert interrupted
    unpacked = cache / "MNIST" / "raw"
    assert {p.name: p.read_bytes() for p in unpacked.iterdir()} == payload  # no temporaries left


def test_digits_is_offline_32x32_grayscale_with_disjoint_splits():
    train, test = load("digits", "train"), load("digits", "test")
    assert train.images.shape == (1438, 1, 32, 32) and test.images.shape == (359, 1, 32, 32)
    assert train.images.max() == 255 and train.images.min() == 0
    flat_train = {bytes(x.numpy()) for x in train.images}
    assert not any(bytes(x.numpy()) in flat_train for x in test.images[:50])


def test_missing_torchvision_data_says_where_to_put_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py"):
        load("cifar10", "train", root=tmp_path)


@pytest.mark.parametrize("name", ["celeba_hq_128", "lsun_bedroom"])
def test_missing_folder_says_where_and_how(tmp_path, name):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / name)) as info:
        load(name, "train", root=tmp_path)
    assert "download" in str(info.value).lower() or "build" in str(info.value).lower()


def write_images(folder: Path, n: int, size: tuple[int, int]) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (*size[::-1], 3), dtype=np.uint8)).save(
            folder / f"{i:04d}.png"
        )


def test_lsun_is_a_central_crop_at_native_resolution(tmp_path):
    write_images(tmp_path / "lsun_bedroom", 100, (256, 192))
    data = load("lsun_bedroom", "test", root=tmp_path)
    assert data.images.shape == (1, 3, 128, 128)  # last 1% in file order
    original = np.asarray(Image.open(tmp_path / "lsun_bedroom" / "0099.png"))
    crop = original[32:160, 64:192]  # (192-128)/2 rows, (256-128)/2 columns
    assert np.array_equal(data.images[0].permute(1, 2, 0).numpy(), crop)


def test_lsun_is_decoded_per_batch_with_the_same_pixels_as_in_memory(tmp_path):
    from landscape.data.folders import FolderImages, image_files, stack

    write_images(tmp_path / "lsun_bedroom", 100, (256, 192))
    lazy = load("lsun_bedroom", "train", root=tmp_path).images
    assert isinstance(lazy, FolderImages) and lazy.shape == (99, 3, 128, 128)
    eager = stack(image_files(tmp_path / "lsun_bedroom", "")[:99], 128, 3, crop_only=True)
    picks = torch.tensor([5, 0, 98, 5])
    assert torch.equal(lazy[picks], eager[picks]) and torch.equal(lazy[10:13], eager[10:13])


def test_a_run_trains_on_images_decoded_per_batch(tmp_path):
    from landscape.train import RunSpec, train

    write_images(tmp_path / "data" / "lsun_bedroom", 20, (160, 140))
    spec = RunSpec(
        dataset="lsun_bedroom",
        architecture="sndcgan",
        width=1 / 32,
        z_dim=8,
        batch_size=4,
        steps=3,
        eval_every=3,
    )
    result = train(spec, tmp_path / "run", data_root=tmp_path / "data", progress=False)
    assert result.status == "ok" and result.step == 3


def test_crop_or_pad_pads_small_images_with_zeros():
    small = Image.fromarray(np.full((100, 100, 3), 200, np.uint8))
    out = np.asarray(center_crop_or_pad(small, 128))
    assert out.shape == (128, 128, 3) and out[0, 0].max() == 0 and out[64, 64].min() == 200


def test_image_folder_any_resolution_and_splits(tmp_path):
    write_images(tmp_path / "mine", 20, (80, 60))
    train = load("image_folder", "train", root=tmp_path, path="mine", resolution=64)
    test = load("image_folder", "test", root=tmp_path, path="mine", resolution=64)
    assert train.images.shape == (18, 3, 64, 64) and test.images.shape == (2, 3, 64, 64)


def test_unknown_data_set_and_split_are_clear_errors():
    with pytest.raises(KeyError, match="unknown data set 'cifar11'; choose from: .*cifar10"):
        load("cifar11")
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        load("digits", "dev")
    assert {
        "cifar10",
        "mnist",
        "fashion_mnist",
        "celeba_hq_128",
        "lsun_bedroom",
        "image_folder",
        "digits",
    } <= set(DATASETS)
