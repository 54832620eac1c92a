"""FLOP counts by what determines them, counted once and kept on disk.

Counting a training step on the meta device takes about a second, and a paper study has a few
distinct models among its ~2,000 runs (the shape key, ``flops._shape_key``: architecture,
width, batch, penalty, normalization, n_disc, z_dim, data set, evaluation protocol). The
counts are kept in ``<cache folder>/flops.json`` (``$LANDSCAPE_CACHE``, else
``~/.cache/landscape``) under a fingerprint of everything that could change them: the source
of the package and of every plugin that registered a variant or metric, the registered metric
names, and the torch and torchvision versions. A change to any of them starts a new table, so
a stale count is never read. Counts read back are the same numbers (JSON keeps a float
exactly).
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import landscape
from landscape.atomic import atomic_write_bytes
from landscape.cost import flops
from landscape.cost.flops import _shape_key, image_shape
from landscape.train.spec import RunSpec

CACHE_FILE = "flops.json"
PACKAGE = Path(landscape.__file__).parent


def _plugin_files() -> list[Path]:
    """Source files outside the package of registered variants, data sets and metrics."""
    from landscape import ARCHITECTURES, DATASETS, LOSSES, METRICS, NORMALIZATIONS, PENALTIES

    found = set()
    for registry in (ARCHITECTURES, DATASETS, LOSSES, METRICS, NORMALIZATIONS, PENALTIES):
        for name in registry:
            try:
                path = Path(inspect.getsourcefile(registry[name]) or "")
            except TypeError:  # a built-in or a callable object without a source file
                continue
            if path.is_file() and PACKAGE not in path.resolve().parents:
                found.add(path.resolve())
    return sorted(found)


def fingerprint() -> str:
    """A hash of what the FLOP counts depend on besides the run (module docstring)."""
    from landscape import METRICS

    h = hashlib.sha1()
    for path in sorted(PACKAGE.rglob("*.py")) + _plugin_files():
        h.update(str(path.relative_to(PACKAGE) if PACKAGE in path.parents else path).encode())
        h.update(path.read_bytes())
    for dist in ("torch", "torchvision"):
        try:
            h.update(f"{dist} {metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{dist} none".encode())
    h.update(",".join(sorted(METRICS)).encode())
    return h.hexdigest()


def _with_metrics(kind: str, metrics: tuple[str, ...] | None) -> str:
    """A count's kind, naming the metrics computed when they are not the default ones."""
    return kind if metrics is None else f"{kind}[{','.join(sorted(metrics))}]"


class FlopCounts:
    """A run's FLOP counts (flops.py), memoized by its shape key; kept in ``path`` when given.

    ``step(run, shape)``: per D step; ``eval(run)``: per evaluation on the device;
    ``host(run)``: (elements, FLOPs) of an evaluation's host arithmetic."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.stamp = fingerprint() if path is not None else ""
        self.values: dict[str, Any] = self._read() if path is not None else {}
        self.added = 0

    @classmethod
    def on_disk(cls) -> FlopCounts:
        from landscape.metrics.cache import default_cache_dir

        return cls(default_cache_dir() / CACHE_FILE)

    def _read(self) -> dict[str, Any]:
        assert self.path is not None
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):  # none yet, or torn: counted again
            return {}
        return dict(data.get("counts", {})) if data.get("fingerprint") == self.stamp else {}

    def _get(self, kind: str, run: RunSpec, shape: tuple[int, int], count: Callable[[], Any]):
        key = f"{kind}:{_shape_key(run).run_id}:{shape[0]}x{shape[1]}"
        if key not in self.values:
            self.values[key] = count()
            self.added += 1
        return self.values[key]

    def step(self, run: RunSpec, shape: tuple[int, int] | None = None) -> float:
        shape = shape or image_shape(run)
        return self._get("step", run, shape, lambda: flops.step_flops(run, shape))

    def eval(self, run: RunSpec, metrics: tuple[str, ...] | None = None) -> float:
        kind = _with_metrics("eval", metrics)
        return self._get(kind, run, image_shape(run), lambda: flops.eval_flops(run, None, metrics))

    def host(self, run: RunSpec, metrics: tuple[str, ...] | None = None) -> tuple[float, float]:
        kind = _with_metrics("host", metrics)
        count = self._get(kind, run, image_shape(run), lambda: flops.host_work(run, metrics))
        return count[0], count[1]

    def save(self) -> None:
        """Write the counts added (merged with any another process wrote meanwhile)."""
        if self.path is None or not self.added:
            return
        merged = {**self._read(), **self.values}
        text = json.dumps({"fingerprint": self.stamp, "counts": merged}, sort_keys=True)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.path, text.encode())
        except OSError:  # a read-only cache folder: counted again next time, nothing lost
            return
        self.added = 0
