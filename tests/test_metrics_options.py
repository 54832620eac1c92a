"""A data set's loader options (image_folder's path) are part of the evaluation protocol."""

from __future__ import annotations

import numpy as np
from PIL import Image

from landscape import ARCHITECTURES
from landscape.evaluation import Evaluator, protocol_for


def test_loader_options_name_the_protocol_and_download_does_not():
    a = protocol_for("image_folder", data_options={"path": "a", "resolution": 32})
    b = protocol_for("image_folder", data_options={"path": "b", "resolution": 32})
    assert a.name != b.name and a.name.startswith("image_folder[")
    assert protocol_for("cifar10", data_options={"download": True}) == protocol_for("cifar10")


def test_an_image_folder_is_evaluated_against_its_own_test_split(tmp_path, cache):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        (tmp_path / "imgs" / split).mkdir(parents=True)
        for i in range(60):
            pixels = rng.integers(0, 256, (32, 32), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "imgs" / split / f"{i}.png")
    options = {"path": "imgs", "resolution": 32, "channels": 1}
    protocol = protocol_for(
        "image_folder", n_samples=50, extractor="digits-cnn", data_options=options
    )
    evaluator = Evaluator(protocol, data_root=tmp_path, cache_dir=cache)
    G, _ = ARCHITECTURES["sndcgan"](resolution=32, channels=1, width=1 / 16)
    scores = evaluator(G)
    assert np.isfinite(scores["fid"]) and scores["protocol"]["data_options"] == (
        '{"channels": 1, "path": "imgs", "resolution": 32}'
    )
    assert evaluator.reference_path.name.startswith("image_folder_")  # its own cache entry
    other = protocol_for("image_folder", n_samples=50, extractor="digits-cnn")
    assert Evaluator(other, cache_dir=cache).reference_path != evaluator.reference_path
