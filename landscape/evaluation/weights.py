"""The SHA-256 of a network's weights file, for the protocol record (hashed once a process)."""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path


def file_sha256(path: str | Path) -> str | None:
    """The file's SHA-256 (hex), or None when it does not exist. Cached by path, size and
    modification time, so a replaced file is hashed again."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _sha256(str(path), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=32)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
