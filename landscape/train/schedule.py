"""When the training loop does what: pure functions of the number of D steps done, so the
rules are read (and tested) in one place rather than inside the loop."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    """``done`` is the number of D steps completed (1 after the first step)."""

    steps: int  # the budget
    eval_every: int
    checkpoint_every: int
    log_every: int
    sync_every: int  # how often the loop reads back the divergence flag (a GPU sync)

    def evaluates(self, done: int) -> bool:
        """Every ``eval_every`` steps and at the end (step 0 is evaluated before the first)."""
        return done % self.eval_every == 0 or done == self.steps

    def checkpoints(self, done: int) -> bool:
        return done % self.checkpoint_every == 0 or done == self.steps

    def logs(self, done: int) -> bool:
        return done % self.log_every == 0 or done == self.steps

    def checks_divergence(self, done: int) -> bool:
        """Before anything is recorded: a diverged run never evaluates or saves past its NaN."""
        return (
            done % self.sync_every == 0 or self.evaluates(done) or done % self.checkpoint_every == 0
        )


class Clock:
    """Training seconds of a run: those of its earlier sessions plus this one's so far."""

    def __init__(self, before: float) -> None:
        self.before, self.started = before, time.monotonic()

    def __call__(self) -> float:
        return self.before + time.monotonic() - self.started
