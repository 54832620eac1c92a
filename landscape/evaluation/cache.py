"""The on-disk cache of reference statistics and extractor weights.

Several worker processes may evaluate at once against the same reference (DESIGN.md: one
worker per run, many runs per study). Every cached file is therefore computed under a file
lock, written to a temporary file in the same folder, fsynced and renamed into place: a reader
sees either no file or a complete one, and a file is computed once, by the first worker that
needs it; the others wait on the lock and then read it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO, TypeVar

from filelock import FileLock

from landscape.atomic import atomic_write
from landscape.metrics.cache import default_cache_dir, resolve_cache_dir

__all__ = ["LOCK_TIMEOUT_S", "default_cache_dir", "load_or_compute", "resolve_cache_dir"]

T = TypeVar("T")

LOCK_TIMEOUT_S = 6 * 3600  # computing 10k Inception features on a slow CPU can take hours


def load_or_compute(
    path: Path,
    compute: Callable[[], T],
    save: Callable[[T, IO[bytes]], None],
    load: Callable[[Path], T],
) -> T:
    """``load(path)`` if it exists; otherwise ``compute()``, save it atomically and return it.

    The check and the computation happen under ``<path>.lock``, so concurrent callers (threads
    or processes) compute the value once and all return the same content.
    """
    if path.exists():  # fast path: no lock needed to read a file that was renamed into place
        return load(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT_S):
        if path.exists():  # another worker computed it while we waited
            return load(path)
        value = compute()
        atomic_write(path, lambda f: save(value, f))
        return value
