"""Checkpoints: everything needed to continue a run exactly, written so that a torn write
never costs the run.

``checkpoint.pt`` is written through a temporary file, fsync and rename; just before the
rename the checkpoint it replaces becomes ``checkpoint.prev.pt``, so the previous good one is
kept until the new one is complete. A latest checkpoint that cannot be read (cut short,
empty, garbage: a crash on a file system that lost the data) falls back to the previous one,
and with neither readable the run starts again from step 0; the caller is told which.
"""

from __future__ import annotations

import io
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from landscape.atomic import atomic_path


def rng_state() -> dict[str, Any]:
    """Every random number generator the loop touches: Python, numpy, torch CPU and CUDA."""
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def previous_path(path: Path) -> Path:
    """Where the checkpoint before the latest one is kept: ``checkpoint.prev.pt``."""
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def save_checkpoint(
    path: Path,
    *,
    step: int,
    modules: dict[str, nn.Module | torch.optim.Optimizer],
    extra: dict[str, Any],
) -> None:
    """Write the checkpoint to a temporary file, keep the current one as ``.prev``, then fsync
    and rename: at every moment a complete checkpoint is on disk under one of the two names."""
    payload = {
        "step": step,
        "rng": rng_state(),
        **extra,
        **{name: m.state_dict() for name, m in modules.items()},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with atomic_path(path) as temp:
        temp.write_bytes(buffer.getvalue())
        if path.exists():
            os.replace(path, previous_path(path))


@dataclass(frozen=True)
class Resumed:
    """What :func:`resume` restored: the payload (``step``, ``wall_time``, ...; None when the
    run starts from step 0), the file it came from, and a note when it was not the latest."""

    payload: dict[str, Any] | None
    source: Path | None
    note: str | None


def resume(
    path: Path, modules: dict[str, nn.Module | torch.optim.Optimizer], device: torch.device
) -> Resumed:
    """Restore from the latest readable checkpoint: ``path``, else its ``.prev``, else none.
    Modules are touched only by a checkpoint that was read whole."""
    problems = []
    for candidate in (path, previous_path(path)):
        if not candidate.exists():
            continue
        try:
            payload = read_checkpoint(candidate, modules, device)
        except CheckpointUnreadable as error:
            problems.append(str(error))
            continue
        restore(payload, modules)
        note = None
        if problems:
            note = f"resumed from {candidate.name} at step {payload['step']}: {problems[0]}"
        return Resumed(payload, candidate, note)
    if problems:
        return Resumed(None, None, f"restarted from step 0: {'; '.join(problems)}")
    return Resumed(None, None, None)


class CheckpointUnreadable(ValueError):
    """A checkpoint file that is cut short, empty or not a checkpoint of these modules."""


def read_checkpoint(
    path: Path, modules: dict[str, nn.Module | torch.optim.Optimizer], device: torch.device
) -> dict[str, Any]:
    """The payload of ``path``, checked to hold the step, the RNG states and every module."""
    if path.stat().st_size == 0:
        raise CheckpointUnreadable(f"{path.name} is empty")
    try:
        payload = torch.load(path, map_location=device, weights_only=False)
    except Exception as error:  # a cut zip archive, garbage bytes: torch names many kinds
        raise CheckpointUnreadable(f"{path.name} cannot be read ({error})") from error
    needed = ["step", "rng", *modules]
    missing = [key for key in needed if not isinstance(payload, dict) or key not in payload]
    if missing:
        raise CheckpointUnreadable(f"{path.name} lacks {', '.join(missing)}")
    return payload


def restore(payload: dict[str, Any], modules: dict[str, nn.Module | torch.optim.Optimizer]):
    """Load modules, optimizers and RNG states from a payload read by ``read_checkpoint``."""
    for name, module in modules.items():
        module.load_state_dict(payload[name])
    rng = payload["rng"]
    rng["torch"] = rng["torch"].cpu()
    if "cuda" in rng:
        rng["cuda"] = [s.cpu() for s in rng["cuda"]]
    set_rng_state(rng)


def load_checkpoint(
    path: Path, modules: dict[str, nn.Module | torch.optim.Optimizer], device: torch.device
) -> dict[str, Any]:
    """Restore modules, optimizers and RNG states from ``path``; returns the payload."""
    payload = read_checkpoint(path, modules, device)
    restore(payload, modules)
    return payload


def save_generator(path: Path, G: nn.Module, *, step: int, extra: dict[str, Any]) -> None:
    """Keep G's weights and buffers (batch-norm statistics included: G is scored in eval mode)
    at ``step``, written like a checkpoint (temporary file, fsync, rename), so a kept
    generator is always whole."""
    buffer = io.BytesIO()
    torch.save({"step": step, "G": G.state_dict(), **extra}, buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temp:
        temp.write_bytes(buffer.getvalue())


def load_generator(path: Path, G: nn.Module, device: torch.device | str = "cpu") -> dict:
    """Load a kept generator (``save_generator``) or a checkpoint's G into ``G``; returns the
    payload (``step`` and what was kept with it)."""
    try:
        payload = torch.load(path, map_location=device, weights_only=False)
    except Exception as error:
        raise CheckpointUnreadable(f"{path} cannot be read ({error})") from error
    if not isinstance(payload, dict) or "G" not in payload or "step" not in payload:
        raise CheckpointUnreadable(f"{path} holds no generator")
    G.load_state_dict(payload["G"])
    return payload
