"""Watching a run while it trains: TensorBoard event files and a plain status line.

Each run writes its curves where TensorBoard reads them, in its own folder, so
``tensorboard --logdir results/<study>/runs`` shows every run of a study side by side, named by
run_id: ``train/loss_d``, ``train/loss_g``, ``train/penalty``, ``train/d_real`` and
``train/d_fake`` (D's mean logit on the real batch and on the fakes), ``train/grad_norm_d`` and
``train/grad_norm_g`` (read from the gradients the last update left, at log steps only) and
``eval/<column>`` for every metric of every evaluation. A resumed run purges what the earlier
session wrote after its checkpoint, so no step appears twice.

TensorBoard is optional (``pip install 'landscape[watch]'``): without it a run trains as before
and says once how to turn this on. Without a terminal (under Slurm) the progress bar is off,
and a status line goes to the worker's log every ``STATUS_EVERY`` seconds instead.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch

STATUS_EVERY = 60.0  # seconds between plain status lines when there is no progress bar
HINT = (
    "TensorBoard logs are off: the `tensorboard` package is not installed "
    "(pip install 'landscape[watch]' turns them on)"
)
_told = False


def tensorboard_writer(folder: Path, start: int) -> Any | None:
    """A SummaryWriter on ``folder`` that purges what was logged after ``start`` (the
    checkpoint a resumed run goes on from), or None without the tensorboard package."""
    global _told
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        if not _told:
            warnings.warn(HINT, RuntimeWarning, stacklevel=3)
            _told = True
        return None
    # the loop logs from start + 1 on: what an earlier session wrote after its checkpoint goes
    return SummaryWriter(log_dir=str(folder), purge_step=start + 1 if start > 0 else None)


class Watch:
    """What the loop reports as it goes: TensorBoard scalars and, without a progress bar, a
    status line every STATUS_EVERY seconds."""

    def __init__(
        self, run_id: str, folder: Path, start: int, steps: int, *, bar: bool, models=()
    ) -> None:
        self.run_id, self.steps, self.models = run_id, steps, models
        self.writer = tensorboard_writer(folder, start)
        self.status = not bar
        self.last, self.last_step = time.monotonic(), start

    def train(self, step: int, record: dict[str, float], out: Any) -> None:
        if self.writer is not None:
            scalars = {k: v for k, v in record.items() if k not in ("step", "time")}
            for name, value in (("d_real", out.d_real), ("d_fake", out.d_fake)):
                if value is not None:
                    scalars[name] = float(value)
            for module, name in zip(self.models, ("g", "d"), strict=False):
                scalars[f"grad_norm_{name}"] = grad_norm(module)
            for key, value in scalars.items():
                if value is not None and math.isfinite(value):
                    self.writer.add_scalar(f"train/{key}", value, step)
        if self.status and time.monotonic() - self.last >= STATUS_EVERY:
            rate = (step - self.last_step) / max(time.monotonic() - self.last, 1e-9)
            print(
                f"run {self.run_id}: step {step}/{self.steps} ({step / max(self.steps, 1):.0%}), "
                f"loss_d {record['loss_d']:.4g}, loss_g {record['loss_g']:.4g}, "
                f"{rate:.1f} steps/s",
                file=sys.stderr,
                flush=True,
            )
            self.last, self.last_step = time.monotonic(), step

    def evaluation(self, step: int, scores: dict[str, Any]) -> None:
        if self.writer is None:
            return
        for key, value in scores.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                if math.isfinite(value):
                    self.writer.add_scalar(f"eval/{key}", value, step)
        self.writer.flush()  # an evaluation is rare: show it at once

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def grad_norm(module: torch.nn.Module) -> float | None:
    """The L2 norm of the gradients the module's last update left (None if it has none)."""
    grads = [p.grad.detach().float().norm() for p in module.parameters() if p.grad is not None]
    return float(torch.stack(grads).norm()) if grads else None
