"""Real-data floors: the FID and KID of real train images against the protocol's reference.

``landscape floor DATASET`` scores the first ``n_fake`` images of the train split (file order)
as if they were fakes, against the cached reference statistics of the test split, under the
protocol's own sample counts, extractor and KID settings. The result is cached beside the
reference statistics (``<cache>/stats/floor-<protocol>.json``, written atomically) and read
back, without torch, by :func:`landscape.metrics.read_floor`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO

import torch
from filelock import FileLock

from landscape.atomic import atomic_write
from landscape.data import load
from landscape.evaluation import scores
from landscape.evaluation.cache import LOCK_TIMEOUT_S, load_or_compute
from landscape.evaluation.evaluate import Evaluator
from landscape.evaluation.features import extract
from landscape.evaluation.protocol import Protocol, versions
from landscape.evaluation.reference import reference_key
from landscape.metrics.floors import PAPER_FLOORS, floor_path


def split_scores(evaluator: Evaluator, split: str) -> dict:
    """FID and KID of the first ``n_fake`` images of ``split`` against the evaluator's
    reference (no cache). ``split="test"`` scores the reference against itself: FID 0."""
    p = evaluator.protocol
    options = json.loads(p.data_options) if p.data_options else {}
    data = load(p.dataset, split, root=evaluator.data_root, **options)
    if len(data) < p.n_fake:
        raise ValueError(
            f"{p.dataset} ({split}) has {len(data)} images, but the protocol {p.name} scores "
            f"{p.n_fake}; ask for fewer samples (--samples {len(data) // 50 * 50})"
        )
    reference = evaluator.reference
    features = extract(
        evaluator.extractor,
        data.images[: p.n_fake].split(p.batch_size),
        device=evaluator.device,
    )
    kid_mean, kid_std = scores.kid(
        features[evaluator.layers["kid"]],
        reference.kid_features,
        subsets=p.kid_subsets,
        subset_size=p.kid_subset_size,
        seed=p.kid_seed,
    )
    fid = scores.fid(scores.statistics(features[evaluator.layers["fid"]]), reference.stats)
    return {"fid": fid, "kid_mean": kid_mean, "kid_std": kid_std}


def compute_floor(evaluator: Evaluator) -> dict:
    """The floor record of the evaluator's protocol: train split vs the reference (uncached)."""
    p: Protocol = evaluator.protocol
    start = time.perf_counter()
    out = split_scores(evaluator, "train")
    return {
        "protocol": p.name,
        **out,
        "split": "train",
        "reference_split": p.split,
        "n_split": p.n_fake,
        "n_reference": p.n_real,
        "extractor": p.extractor,
        "extractor_weights": p.as_dict()["extractor_weights"],
        "reference_key": reference_key(p),
        "paper_fid": PAPER_FLOORS.get(p.dataset),
        "comparable_with_papers": p.comparable_with_papers,
        "note": p.note,
        "seconds": round(time.perf_counter() - start, 3),
        "versions": versions(),
    }


def _save(record: dict, f: IO[bytes]) -> None:
    f.write(json.dumps(record, indent=2, sort_keys=True).encode() + b"\n")


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def floor(
    protocol: Protocol,
    *,
    data_root: str | Path | None = None,
    device: str | torch.device = "cpu",
    cache_dir: str | Path | None = None,
) -> tuple[dict, bool]:
    """The floor of ``protocol`` and whether it was computed now (False: read from the cache).

    A cached floor computed against other reference features (another extractor version) is
    recomputed and replaced, under the same lock as a first computation.
    """
    path = floor_path(protocol, cache_dir)
    key = reference_key(protocol)
    computed: list[bool] = []
    evaluator: list[Evaluator] = []

    def compute() -> dict:
        computed.append(True)
        if not evaluator:
            evaluator.append(
                Evaluator(protocol, data_root=data_root, device=device, cache_dir=cache_dir)
            )
        return compute_floor(evaluator[0])

    record = load_or_compute(path, compute, _save, _load)
    if record.get("reference_key") != key:
        with FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT_S):
            record = _load(path)
            if record.get("reference_key") != key:
                record = compute()
                atomic_write(path, lambda f: _save(record, f))
    return record, bool(computed)
