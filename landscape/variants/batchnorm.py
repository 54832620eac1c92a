"""Batch norm as TensorFlow keeps it (PAPER.md 3): the running variance is the biased one."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class _TFRunningStats:
    """Batch norm whose running variance is TensorFlow's: the BIASED batch variance.

    ``nn.BatchNorm*`` folds the unbiased variance (factor n / (n - 1)) into ``running_var``;
    TF (``tf.contrib.layers.batch_norm``, which compare_gan uses) folds the biased one. The
    difference shows whenever the moving statistics are used: G in eval mode, i.e. every
    evaluation (64/63 on the SNDCGAN generator's per-unit BN at batch 64). The output in train
    mode is unchanged: it is normalized by the biased batch variance in both libraries.
    Update: running = (1 - momentum) * running + momentum * batch statistic (momentum 0.1 =
    TF decay 0.9, PAPER.md 3), applied ``folds`` times with the same batch statistics (see
    ``folded``).
    """

    folds = 1

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and self.track_running_stats):
            return super().forward(x)  # type: ignore[misc]
        self._check_input_dim(x)  # type: ignore[attr-defined]
        out = F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)
        with torch.no_grad():
            dims = [0, *range(2, x.dim())]
            var, mean = torch.var_mean(x.detach().float(), dim=dims, correction=0)
            for _ in range(self.folds):
                m = self.momentum
                if m is None:  # cumulative average, as PyTorch does
                    m = 1.0 / float(self.num_batches_tracked + 1)
                self.running_mean.mul_(1 - m).add_(mean, alpha=m)
                self.running_var.mul_(1 - m).add_(var, alpha=m)
                self.num_batches_tracked.add_(1)
        return out


class BatchNorm1d(_TFRunningStats, nn.BatchNorm1d):
    """``nn.BatchNorm1d`` keeping TF's biased running variance (see ``_TFRunningStats``)."""


class BatchNorm2d(_TFRunningStats, nn.BatchNorm2d):
    """``nn.BatchNorm2d`` keeping TF's biased running variance (see ``_TFRunningStats``)."""


@contextlib.contextmanager
def folded(module: nn.Module, times: int) -> Iterator[None]:
    """Within the block, each training-mode forward of ``module``'s batch norms folds its batch
    statistics into the running averages ``times`` times, as ``times`` forwards of the same
    batch would. compare_gan (v2) runs G forward again on the same z for the G step, so on those
    steps G's moving averages take the one batch twice (PAPER.md pitfall 5); folding it in twice
    gives the same averages without the second forward."""
    if times == 1:  # every D step passes here: nothing to set, nothing to walk
        yield
        return
    norms = [m for m in module.modules() if isinstance(m, _TFRunningStats)]
    for norm in norms:
        norm.folds = times
    try:
        yield
    finally:
        for norm in norms:
            del norm.folds  # back to the class's 1
