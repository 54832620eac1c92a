"""Writing files so that a reader sees the old file or the new one, never half of either:
a temporary file in the same folder, fsync, rename, fsync of the folder. Results, checkpoints,
caches and reports all go through here."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK  # what open() would give: mkstemp's files are private (0600)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A fresh temporary path beside ``path``, renamed onto it when the block succeeds (for
    libraries that write to a path: matplotlib, pandas). Two writers at once do not clash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(name, FILE_MODE)
    temp = Path(name)
    try:
        yield temp
        with open(temp, "rb+") as f:
            os.fsync(f.fileno())
        temp.replace(path)
        _fsync_dir(path.parent)
    finally:
        temp.unlink(missing_ok=True)


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through ``write(file)``."""
    with atomic_path(path) as temp, open(temp, "wb") as f:
        write(f)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
