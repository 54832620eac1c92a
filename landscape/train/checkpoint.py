"""Checkpoints: everything needed to continue a run exactly, written atomically."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from landscape.atomic import atomic_write_bytes


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


def save_checkpoint(
    path: Path,
    *,
    step: int,
    modules: dict[str, nn.Module | torch.optim.Optimizer],
    extra: dict[str, Any],
) -> None:
    """Write the checkpoint through a temporary file, fsync and rename: the previous checkpoint
    stays in place until the new one is complete."""
    payload = {
        "step": step,
        "rng": rng_state(),
        **extra,
        **{name: m.state_dict() for name, m in modules.items()},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(
    path: Path, modules: dict[str, nn.Module | torch.optim.Optimizer], device: torch.device
) -> dict[str, Any]:
    """Restore modules, optimizers and RNG states; returns the payload (with ``step``)."""
    payload = torch.load(path, map_location=device, weights_only=False)
    for name, module in modules.items():
        module.load_state_dict(payload[name])
    rng = payload["rng"]
    rng["torch"] = rng["torch"].cpu()
    if "cuda" in rng:
        rng["cuda"] = [s.cpu() for s in rng["cuda"]]
    set_rng_state(rng)
    return payload
