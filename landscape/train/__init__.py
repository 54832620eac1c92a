"""Training: the run specification and the one training loop."""

from landscape.train.loop import RunResult, pick_device, train
from landscape.train.spec import RunSpec

__all__ = ["RunResult", "RunSpec", "pick_device", "train"]
