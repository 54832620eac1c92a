"""Read one run folder's files (docs/results-layout.md): the only per-run work, and it is I/O.

Plain ``os`` paths and one ``json.loads`` per file keep a 10,000-run study near the cost of
reading its bytes. Unreadable records are skipped and described in ``problems``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from landscape.records import Status


def run_folders(runs_dir: Path) -> list[str]:
    """The run folders under ``runs/``, sorted by name (hidden ones, like the workers'
    ``.locks``, are not runs)."""
    if not runs_dir.is_dir():
        return []
    with os.scandir(runs_dir) as entries:
        return sorted(e.path for e in entries if e.is_dir() and not e.name.startswith("."))


def read_json(path: str, problems: list[str], missing_ok: bool = False) -> dict | None:
    try:
        with open(path, encoding="utf-8") as file:
            value = json.loads(file.read())
    except FileNotFoundError:
        if not missing_ok:
            problems.append(f"{path}: missing; run folder skipped")
        return None
    except (OSError, ValueError) as err:
        problems.append(f"{path}: unreadable ({err})")
        return None
    if not isinstance(value, dict):
        problems.append(f"{path}: expected a JSON object")
        return None
    return value


def read_evals(path: str, problems: list[str]) -> list[dict[str, Any]]:
    """The JSON lines of ``evals.jsonl``; a torn line (a worker writing now) is skipped."""
    try:
        with open(path, encoding="utf-8") as file:
            lines = [line for line in file.read().splitlines() if line.strip()]
    except FileNotFoundError:
        return []
    try:  # the whole file as one JSON array: one parser call instead of one per line
        rows = json.loads("[" + ",".join(lines) + "]")
        if all(isinstance(row, dict) for row in rows):
            return rows
    except ValueError:
        pass
    rows = []
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if isinstance(row, dict):
            rows.append(row)
        else:
            problems.append(f"{path}:{number}: not a JSON line; skipped")
    return rows


def status_columns(status: dict | None) -> dict[str, Any]:
    """status.json -> run columns; no status.json means the run has not started (pending)."""
    if status is None:
        status = {"status": Status.PENDING.value, "step": 0, "wall_time": 0.0}
    return {
        "status": str(status.get("status", "unknown")),
        "steps_trained": status.get("step"),
        "diverged_at": status.get("diverged_at"),
        "wall_time": status.get("wall_time"),
        "error": status.get("error"),
        "flops": status.get("flops"),  # the compute the run used, as its worker counted it
    }
