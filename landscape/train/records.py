"""A run's folder: its config, status and append-only logs (the names: landscape.records)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from landscape.atomic import atomic_write_bytes
from landscape.records import ENDED, RunFiles, generator_file, protocol_name


class ForeignRunFolder(ValueError):
    """The folder holds another run (or a config.json that cannot be read): it is refused and
    nothing in it is written, status.json included."""


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def append_jsonl(path: str | Path, record: dict[str, Any]) -> None:
    """Append one JSON line (one write call, flushed and synced)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The records of a log, keeping the last line per step and protocol: a run resumed from a
    checkpoint repeats the steps after it, and the repeated lines supersede the earlier ones;
    an evaluation under another protocol (`landscape evaluate`) never does. Sorted by step,
    protocols in the order they first appear. A torn last line (the process was killed
    mid-write) is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    latest: dict[tuple[int, str | None], dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        latest[(record["step"], protocol_name(record))] = record
    return sorted(latest.values(), key=lambda r: r["step"])  # stable: first-seen protocol first


class RunFolder:
    """Paths and records of one run: ``<root>/<run_id>/``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.config = self.path / RunFiles.CONFIG
        self.status_file = self.path / RunFiles.STATUS
        self.checkpoint = self.path / RunFiles.CHECKPOINT
        self.train_log = self.path / RunFiles.TRAIN_LOG
        self.eval_log = self.path / RunFiles.EVAL_LOG
        self.samples = self.path / RunFiles.SAMPLES
        self.generators = self.path / RunFiles.GENERATORS
        self.best_generator = self.generators / RunFiles.BEST_GENERATOR

    def generator_at(self, step: int) -> Path:
        """G kept at ``step`` (``keep_generators: every``)."""
        return self.generators / generator_file(step)

    def status(self) -> dict[str, Any] | None:
        return read_json(self.status_file)

    def finished(self) -> bool:
        status = self.status()
        return status is not None and status.get("status") in ENDED  # never trained again

    def set_status(self, **status: Any) -> None:
        write_json(self.status_file, status)
