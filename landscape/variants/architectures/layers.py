"""Layers with TensorFlow's "SAME" padding and compare_gan's initialisers (PAPER.md 4.1)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

INIT_STD = 0.02


def _same_padding(kernel: int, stride: int) -> tuple[int, int]:
    """TF SAME padding (before, after) for an input divisible by the stride."""
    total = max(kernel - stride, 0)
    return total // 2, total - total // 2


class Conv2dSame(nn.Conv2d):
    """Conv with TF SAME padding; k5 s2 pads 1 before and 2 after, as TF does."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, *, truncated: bool = True):
        before, after = _same_padding(kernel, stride)
        super().__init__(cin, cout, kernel, stride, padding=before if before == after else 0)
        self.asymmetric = (before, after) if before != after else None
        init_weight(self.weight, truncated=truncated)
        nn.init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        if self.asymmetric:
            before, after = self.asymmetric
            x = F.pad(x, (before, after, before, after))
        return super().forward(x)


class ConvTranspose2dSame(nn.ConvTranspose2d):
    """Transposed conv whose output is ``stride`` times its input, cropped as TF crops it."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int):
        before, after = _same_padding(kernel, stride)
        super().__init__(cin, cout, kernel, stride, padding=before if before == after else 0)
        self.crop = before if before != after else None
        init_weight(self.weight, truncated=False)
        nn.init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        y = super().forward(x)
        if self.crop is not None:
            h, w = x.shape[-2] * self.stride[0], x.shape[-1] * self.stride[1]
            y = y[..., self.crop : self.crop + h, self.crop : self.crop + w]
        return y


def linear(fan_in: int, fan_out: int) -> nn.Linear:
    """compare_gan ``linear``: weights N(0, 0.02), bias 0."""
    layer = nn.Linear(fan_in, fan_out)
    init_weight(layer.weight, truncated=False)
    nn.init.zeros_(layer.bias)
    return layer


def init_weight(weight: Tensor, *, truncated: bool) -> None:
    """N(0, 0.02), or TF's truncated normal (resampled beyond 2 std) for ``conv2d``."""
    if truncated:
        nn.init.trunc_normal_(weight, std=INIT_STD, a=-2 * INIT_STD, b=2 * INIT_STD)
    else:
        nn.init.normal_(weight, std=INIT_STD)


def unpool(x: Tensor) -> Tensor:
    """Zero-insertion 2x upsampling: out[2i, 2j] = x[i, j], the other three cells 0.

    compare_gan's ``unpool``; not nearest-neighbour upsampling (PAPER.md 4.4).
    """
    b, c, h, w = x.shape
    out = x.new_zeros(b, c, h, 2, w, 2)
    out[:, :, :, 0, :, 0] = x
    return out.reshape(b, c, 2 * h, 2 * w)
