"""Real batches in a seeded order that is a pure function of the step (exact resume)."""

from __future__ import annotations

import torch
from torch import Tensor


class BatchStream:
    """Batch ``step``: epoch = step // batches_per_epoch, a fresh seeded permutation per epoch,
    the last incomplete batch of each epoch dropped. Resuming needs only the step."""

    def __init__(self, images: Tensor, batch_size: int, seed: int) -> None:
        if len(images) < batch_size:
            raise ValueError(
                f"the data set has {len(images)} images, fewer than one batch of "
                f"{batch_size}; lower batch_size"
            )
        self.images, self.batch_size, self.seed = images, batch_size, seed
        self.per_epoch = len(images) // batch_size
        self._epoch, self._order = -1, None

    def position(self, step: int) -> dict[str, int]:
        epoch, index = divmod(step, self.per_epoch)
        return {"epoch": epoch, "batch": index}

    def __call__(self, step: int) -> Tensor:
        epoch, index = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._order = torch.randperm(len(self.images), generator=gen).to(self.images.device)
            self._epoch = epoch
        return self.images[self._order[index * self.batch_size : (index + 1) * self.batch_size]]
