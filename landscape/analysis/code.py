"""Which code each run was trained with, as the report tells it (execution/provenance.py
records it). A run trained again under changed variant code (``landscape run
--retrain-changed``) is a run of its own, one ``code_generation`` up; the run it replaces is
reported apart, under a protocol of its own, so old and new code are never compared or
pooled. Runs kept under older code (``--keep-changed``) are named in the report's notes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from landscape.records import CODE_CHOICES

GENERATION = "code_generation"  # the RunSpec field (train/spec.py)
NOT_IDENTITY = ("run_id", "study", GENERATION)  # what a retrain changes, or a label


def apart_older_code(
    runs: pd.DataFrame,
    config_columns: tuple[str, ...],
    protocols: dict[str, dict[str, Any]],
    problems: list[str],
) -> list[str]:
    """Rename the protocol of every run that a retrain replaced to "<name> · older code" and
    return their run_ids. A run is replaced when another run has the same config but a higher
    code generation."""
    if GENERATION not in runs or not len(runs):
        return []
    generation = pd.to_numeric(runs[GENERATION], errors="coerce").fillna(0).astype(int)
    keys = [runs[c].astype(str) for c in config_columns if c in runs and c not in NOT_IDENTITY]
    newest = generation.groupby(keys, dropna=False).transform("max") if keys else generation
    older = generation < newest
    for name, group in runs[older].groupby("protocol"):
        apart = f"{name} · older code"
        protocols[apart] = {**protocols.get(name, {}), "name": apart, "older_code": True}
        runs.loc[group.index, "protocol"] = apart
        problems.append(
            f"{len(group)} run(s) were trained again under changed variant code "
            f"(landscape run --retrain-changed); the older runs are reported apart as {apart!r}"
        )
    return runs.loc[older, "run_id"].tolist()


def kept_notes(root: Path, runs: pd.DataFrame) -> list[str]:
    """One note per `--keep-changed` choice whose runs are still reported as current."""
    notes = []
    for choice in read_choices(root):
        if choice.get("choice") != "keep":
            continue
        current = set(runs["run_id"]) if len(runs) else set()
        kept = [r for r in choice.get("runs", {}) if r in current]
        variants = sorted({v for r in kept for v in choice["runs"][r]})
        if kept:
            notes.append(
                f"{len(kept)} run(s) were trained with older code of {', '.join(variants)} and "
                f"kept as they are (landscape run --keep-changed, {choice.get('time', '?')})"
            )
    return notes


def read_choices(root: Path) -> list[dict[str, Any]]:
    path = Path(root) / CODE_CHOICES
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a torn last line
    return out
