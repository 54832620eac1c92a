"""Reference statistics: the features of the real split, computed once and cached on disk.

One file per (data set, split, sample count, network, its weights, feature layers):
``<cache>/stats/<key>.npz`` holding the FID statistics (mu, sigma in float64) and the KID
features. The real images are the first ``n_real`` of the test split in file order
(compare_gan ``GetRealImages``, PAPER.md 5), scaled to [0, 255] exactly as stored (uint8).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import torch
from torch import Tensor
from torch_fidelity.feature_extractor_base import FeatureExtractorBase

from landscape.data import load
from landscape.evaluation.cache import load_or_compute, resolve_cache_dir
from landscape.evaluation.extractors import FLOAT_INPUT, feature_layers, weights_label
from landscape.evaluation.features import extract
from landscape.evaluation.protocol import Protocol
from landscape.evaluation.scores import Statistics, statistics
from landscape.metrics.cache import STATS_DIR

FORMAT = 1  # bump when the file layout or the way it is computed changes


@dataclass(frozen=True)
class Reference:
    """What an evaluation needs from the real split."""

    stats: Statistics  # FID
    kid_features: Tensor  # (n_real, D) float32
    meta: dict


def reference_key(protocol: Protocol, network: str | None = None) -> str:
    """A file-name-safe key naming everything the cached features of ``network`` (default: the
    protocol's extractor, whose keys are as before networks were per metric) depend on, the
    network's weights (file and version) included."""
    network = network or protocol.extractor
    layers = feature_layers(network)
    parts = [
        protocol.source,
        protocol.split,
        str(protocol.n_real),
        network,
        Path(weights_label(network)).stem,
        layers["fid"],
        layers["kid"],
        f"f{FORMAT}",
    ]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(parts))


def reference_path(
    protocol: Protocol, cache_dir: str | Path | None = None, network: str | None = None
) -> Path:
    """``<cache>/stats/<key>.npz``: one file per network."""
    return resolve_cache_dir(cache_dir) / STATS_DIR / f"{reference_key(protocol, network)}.npz"


def real_images(protocol: Protocol, data_root: str | Path | None) -> Tensor:
    """The first ``n_real`` images of the reference split, uint8 (N, C, H, W)."""
    options = json.loads(protocol.data_options) if protocol.data_options else {}
    data = load(protocol.dataset, protocol.split, root=data_root, **options)
    if len(data) < protocol.n_real:
        raise ValueError(
            f"{protocol.dataset} ({protocol.split}) has {len(data)} images, but the protocol "
            f"{protocol.name} needs {protocol.n_real} real ones; ask for fewer samples "
            f"(n_samples <= {len(data) // 50 * 50})"
        )
    return data.images[: protocol.n_real]


def compute_reference(
    protocol: Protocol,
    extractor: FeatureExtractorBase,
    *,
    data_root: str | Path | None = None,
    device: str | torch.device = "cpu",
    network: str | None = None,
) -> Reference:
    """Extract the real features of ``network`` (default: the protocol's extractor; no cache
    involved). The stored uint8 images go in as they are, batch by batch."""
    network = network or protocol.extractor
    images = real_images(protocol, data_root)
    features = extract(
        extractor,
        images.split(protocol.batch_size),
        device=device,
        quantize=network not in FLOAT_INPUT,  # uint8 stays uint8 for uint8-only networks
    )
    layers = feature_layers(network)
    meta = {
        "key": reference_key(protocol, network),
        "network": network,
        "protocol": protocol.as_dict(),
        "format": FORMAT,
        "image_shape": list(images.shape[1:]),
    }
    return Reference(statistics(features[layers["fid"]]), features[layers["kid"]], meta)


def _save(ref: Reference, f: IO[bytes]) -> None:
    np.savez(
        f,
        mu=ref.stats.mu,
        sigma=ref.stats.sigma,
        kid_features=ref.kid_features.numpy(),
        meta=np.array(json.dumps(ref.meta)),
    )


def _load(path: Path) -> Reference:
    with np.load(path, allow_pickle=False) as z:
        stats = Statistics(mu=z["mu"], sigma=z["sigma"])
        return Reference(stats, torch.from_numpy(z["kid_features"]), json.loads(str(z["meta"])))


def load_reference(
    protocol: Protocol,
    extractor: FeatureExtractorBase,
    *,
    data_root: str | Path | None = None,
    device: str | torch.device = "cpu",
    cache_dir: str | Path | None = None,
    network: str | None = None,
) -> tuple[Reference, Path]:
    """The cached reference of ``protocol`` for ``network`` (default: its extractor), computed
    and cached on first use, and its path. Safe with several processes at once: one computes,
    the others wait and read."""
    path = reference_path(protocol, cache_dir, network)
    ref = load_or_compute(
        path,
        lambda: compute_reference(
            protocol, extractor, data_root=data_root, device=device, network=network
        ),
        _save,
        _load,
    )
    return ref, path
