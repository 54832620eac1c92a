"""Real-data floors, read without torch: the FID (and KID) of a data set's train split against
its test split under an evaluation protocol (``landscape floor DATASET`` computes them).

No generator can be expected to score much below its data set's floor: a model within a few
points of it is about as close to the test split as other real images are. The paper's floors
(PAPER.md 8, [P 2.5]; their computation is not documented, presumably train vs test at the same
sample counts) are kept in :data:`PAPER_FLOORS`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from landscape.metrics.cache import STATS_DIR, resolve_cache_dir

PAPER_FLOORS = {"cifar10": 5.19, "celeba_hq_128": 12.6, "lsun_bedroom": 3.8}  # FID, [P 2.5]


def protocol_name(protocol: Any) -> str:
    """The name of a protocol given as its name, a ``Protocol`` or a protocol record (dict)."""
    if isinstance(protocol, str):
        return protocol
    if isinstance(protocol, Mapping):
        if "name" not in protocol:
            raise ValueError(f"protocol record without a 'name': {sorted(protocol)}")
        return str(protocol["name"])
    name = getattr(protocol, "name", None)
    if not isinstance(name, str):
        raise TypeError(f"expected a protocol name, Protocol or protocol record, got {protocol!r}")
    return name


def floor_path(protocol: Any, cache_dir: str | Path | None = None) -> Path:
    """``<cache>/stats/floor-<protocol name>.json``, beside the reference statistics."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", protocol_name(protocol))
    return resolve_cache_dir(cache_dir) / STATS_DIR / f"floor-{safe}.json"


def read_floor(protocol: Any, cache_dir: str | Path | None = None) -> dict | None:
    """The cached floor of ``protocol`` (a name such as ``cifar10/test/10000/inception-v3-compat``,
    a ``Protocol`` or a protocol record), or None when ``landscape floor`` has not computed it.

    Keys: ``protocol`` (name), ``fid``, ``kid_mean``, ``kid_std``, ``split`` ("train") and
    ``reference_split`` ("test"), ``n_split`` / ``n_reference`` (image counts),
    ``extractor``, ``extractor_weights``, ``reference_key``, ``paper_fid`` (the paper's floor
    for this data set, or None), ``comparable_with_papers``, ``note``, ``seconds``, ``versions``.
    """
    path = floor_path(protocol, cache_dir)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
