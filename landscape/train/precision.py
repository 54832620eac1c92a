"""Numeric precision of a run: the one list of valid values, and what fp32 means on a GPU.

- ``fp32``: true float32. TF32 (10-bit mantissa) is OFF for matmuls and cuDNN convs: PyTorch
  turns cuDNN TF32 on by default on Ampere and later, which is not the paper's arithmetic.
- ``tf32``: float32 storage, TF32 matmuls and convs (opt-in, faster on Ampere+ GPUs).
- ``bf16``: autocast to bfloat16 on CUDA; what stays in float32 (penalties, BN statistics)
  is strict float32 as in ``fp32``.

Evaluations always run in strict float32 (``Evaluator`` uses ``float32_mode("fp32")``): the
cached reference statistics are shared by runs of every precision, so the fakes' features
must be computed the same way as the real ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

PRECISIONS = ("fp32", "tf32", "bf16")  # RunSpec.precision and a study's model.precision
DEFAULT_PRECISION = "fp32"
# How every evaluation computes, whatever the run's precision: recorded in each score's protocol.
EVALUATION_ARITHMETIC = "float32, TF32 off (matmuls and cuDNN convolutions)"


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(
            f"unknown precision {precision!r}; choose from: {', '.join(sorted(PRECISIONS))}"
        )
    return precision


def tf32_flags() -> dict[str, object]:
    """The three torch settings that decide TF32, as they are now."""
    return {
        "matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
    }


def _set_tf32(on: bool) -> None:
    torch.set_float32_matmul_precision("high" if on else "highest")
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


@contextmanager
def float32_mode(precision: str) -> Iterator[None]:
    """TF32 on for ``tf32``, off for ``fp32`` and ``bf16``, inside the block; the previous
    settings come back afterwards. Also a decorator (``@float32_mode("fp32")``)."""
    on = check_precision(precision) == "tf32"
    before = tf32_flags()
    _set_tf32(on)
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = bool(before["matmul.allow_tf32"])
        torch.set_float32_matmul_precision(str(before["float32_matmul_precision"]))  # after
        torch.backends.cudnn.allow_tf32 = bool(before["cudnn.allow_tf32"])
