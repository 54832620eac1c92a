"""Where a run ran: host, Slurm job, device and library versions, kept in its folder.

A worker calls ``record`` once as it starts (or resumes) a run: a line is appended to the run's
``where.jsonl`` (records.RunFiles.WHERE) when the place differs from the last one recorded, so
a run resumed on another host, device or Slurm job keeps every place it ran, in order, and a
resume in the same place adds nothing. Reading (``places``, ``last_place``) needs no torch.
"""

from __future__ import annotations

import json
import platform
import socket
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from landscape.records import RunFiles
from landscape.train.records import append_jsonl, read_json

# The Slurm variables that say which job, array task, node and restart a process is
# (sbatch's OUTPUT ENVIRONMENT VARIABLES); recorded when set.
SLURM_VARIABLES = (
    "SLURM_JOB_ID",
    "SLURM_ARRAY_JOB_ID",
    "SLURM_ARRAY_TASK_ID",
    "SLURMD_NODENAME",
    "SLURM_JOB_PARTITION",
    "SLURM_RESTART_COUNT",
)
# Distributions whose versions change results or their reading.
LIBRARIES = ("torch", "torch-fidelity", "optuna", "numpy", "landscape")
TIME = "time"  # the one key that is not part of the place


def versions() -> dict[str, str | None]:
    """Python's and each library's version; torch's as torch says it (with its build, e.g.
    ``2.14.1+cu130``) and the CUDA it was built with (None on a CPU build)."""
    import torch

    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    out["torch"], out["cuda"] = str(torch.__version__), torch.version.cuda
    return out


def device_name(device: Any) -> str:
    """``cuda:0 NVIDIA H100 80GB HBM3``, ``cpu``...: the kind, and a GPU's model."""
    import torch

    device = torch.device(device)
    if device.type != "cuda":
        return device.type
    index = device.index if device.index is not None else torch.cuda.current_device()
    return f"cuda:{index} {torch.cuda.get_device_name(index)}"


def place(device: Any, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Where this process runs: host, Slurm job (None outside Slurm), device, versions."""
    import os

    env = os.environ if env is None else env
    slurm = {k: env[k] for k in SLURM_VARIABLES if env.get(k)}
    return {
        "host": socket.gethostname(),
        "slurm": slurm or None,
        "device": device_name(device),
        "versions": versions(),
    }


def places(folder: str | Path) -> list[dict[str, Any]]:
    """Every place the run in ``folder`` ran, oldest first (a torn last line is skipped)."""
    path = Path(folder) / RunFiles.WHERE
    if not path.exists():
        return []
    out = []
    for text in path.read_text().splitlines():
        try:
            out.append(json.loads(text))
        except json.JSONDecodeError:
            continue
    return out


def last_place(folder: str | Path) -> dict[str, Any] | None:
    found = places(folder)
    return found[-1] if found else None


def record(folder: str | Path, run_id: str, device: Any, env: dict | None = None) -> bool:
    """Append where this process runs to the run's where.jsonl unless it is the last place
    recorded; returns whether a line was added. A folder holding another run is not touched
    (the training loop refuses it and says why)."""
    folder = Path(folder)
    try:
        config = read_json(folder / RunFiles.CONFIG)
    except (OSError, ValueError):
        return False
    if config is not None and config.get("run_id") != run_id:
        return False
    here = place(device, env)
    last = last_place(folder)
    if last is not None and {k: v for k, v in last.items() if k != TIME} == here:
        return False
    append_jsonl(folder / RunFiles.WHERE, {TIME: time.time(), **here})
    return True
