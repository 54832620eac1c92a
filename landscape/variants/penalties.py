"""Discriminator penalties (PAPER.md section 2). Added to the D loss only: L_D += penalty.

Every penalty takes the discriminator ``D`` (a module returning logits), a real and a fake
batch **in [0, 1]** (the range D is fed, PAPER.md pitfall 2), and returns the weighted
penalty ``weight * P`` as a scalar tensor. ``fake`` must already be detached from G.

A registration also declares, on the entry, what the rest of the suite needs to know:

- ``search_range=(low, high, "log" | "linear")``: where a search looks for lambda (PAPER.md
  Table 2); without one, lambda is searched only when a study file gives a range.
- ``needs_input_grad``: whether the penalty differentiates D's output with respect to its
  input (then D is trained by double backprop, which ``torch.compile`` cannot do). A plugin
  that does not say is assumed to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from landscape.registry import Registry

SCALES = {"log": True, "linear": False}


class PenaltyRegistry(Registry):
    """The penalty registry: ``register`` also records each entry's search range and whether
    it needs D's input gradient, as attributes of the entry (``entry.search_range`` is
    ``(low, high, log)`` or None; ``entry.needs_input_grad`` a bool)."""

    def register(
        self,
        name: str,
        *,
        search_range: tuple[float, float, str] | None = None,
        needs_input_grad: bool = True,
    ) -> Callable[[Any], Any]:
        checked = _search_range(name, search_range)
        add = super().register(name)

        def register_with_metadata(entry: Any) -> Any:
            add(entry)  # first: a refused name leaves the entry as it was
            entry.search_range = checked
            entry.needs_input_grad = bool(needs_input_grad)
            return entry

        return register_with_metadata


def _search_range(name: str, value: Any) -> tuple[float, float, bool] | None:
    """``(low, high, "log" | "linear")`` -> ``(low, high, log)``; a clear error otherwise."""
    if value is None:
        return None
    valid = '(low, high, "log" or "linear") with low < high, low > 0 on a log scale'
    try:
        low, high, scale = value
        low, high, log = float(low), float(high), SCALES[scale]
    except (TypeError, ValueError, KeyError):
        raise ValueError(f"penalty {name!r}: search_range {value!r} must be {valid}") from None
    if not low < high or (log and low <= 0):
        raise ValueError(f"penalty {name!r}: search_range {value!r} must be {valid}")
    return low, high, log


PENALTIES: PenaltyRegistry = PenaltyRegistry("penalty")

SLOPE_EPS = 1e-4  # inside the square root, as compare_gan does (PAPER.md pitfall 3)


def squared_input_gradient(D: nn.Module, x: Tensor) -> Tensor:
    """Per-sample sum of g^2, g = d logit / d x, keeping the graph so D can be trained on it."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return grad.square().flatten(1).sum(1)


def slope(D: nn.Module, x: Tensor) -> Tensor:
    """Per-sample s = sqrt(1e-4 + sum g^2) (compare_gan's slope)."""
    return torch.sqrt(SLOPE_EPS + squared_input_gradient(D, x))


@PENALTIES.register("none", needs_input_grad=False)
def no_penalty(D: nn.Module, real: Tensor, fake: Tensor, *, weight: float = 0.0) -> Tensor:
    """No penalty; ``weight`` is accepted and ignored so that every entry has one signature."""
    return real.new_zeros(())


@PENALTIES.register("gp", search_range=(0.1, 100, "log"))  # Table 2
def gradient_penalty(D: nn.Module, real: Tensor, fake: Tensor, *, weight: float = 10.0) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E (s - 1)^2 at x^ = x + a (x_f - x), a ~ U[0,1) per sample.

    Default weight 10 as in Gulrajani et al.; the paper's grid uses 1 and 10 (PAPER.md Table 1).
    """
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
    interpolates = real + alpha * (fake - real)
    return weight * (slope(D, interpolates) - 1).square().mean()


@PENALTIES.register("dragan", search_range=(0.1, 100, "log"))  # Table 2
def dragan(D: nn.Module, real: Tensor, fake: Tensor, *, weight: float = 10.0) -> Tensor:
    """DRAGAN (Kodali et al. 2017), as compare_gan: E (s - 1)^2 at a perturbed real batch.

    x~ = clip(x + std * (U[0,1) - 0.5), 0, 1), std = one scalar: the standard deviation of the
    whole real batch over all axes (population std, like ``tf.nn.moments``). Default weight 10.
    """
    std = real.std(correction=0)
    perturbed = (real + std * (torch.rand_like(real) - 0.5)).clamp(0, 1)
    return weight * (slope(D, perturbed) - 1).square().mean()


def kernels(D: nn.Module) -> list[Tensor]:
    """D's conv and linear kernels, unnormalized (the raw weight under spectral norm).

    Biases, normalization scales and offsets and SN vectors are not kernels.
    """
    layers = [m for m in D.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    return [
        m.parametrizations.weight.original if parametrize.is_parametrized(m, "weight") else m.weight
        for m in layers
    ]


@PENALTIES.register("l2", search_range=(1e-4, 10, "log"), needs_input_grad=False)
def l2(D: nn.Module, real: Tensor, fake: Tensor, *, weight: float = 1.0) -> Tensor:
    """Weight decay on D's kernels as compare_gan: P = (1/L) sum_l 1/2 ||W_l||_F^2.

    The mean over the L layers of ``tf.nn.l2_loss``. Default weight 1 (paper grid: 1, 10).
    """
    weights = kernels(D)
    return weight * torch.stack([0.5 * w.square().sum() for w in weights]).mean()


@PENALTIES.register("r1", search_range=(0.1, 100, "log"))  # not in the paper: GP's
def r1(D: nn.Module, real: Tensor, fake: Tensor, *, weight: float = 10.0) -> Tensor:
    """R1 (Mescheder et al. 2018; not in the paper): (gamma/2) E ||grad_x l(x)||^2 on real data.

    ``weight`` is gamma (default 10, the common choice).
    """
    return 0.5 * weight * squared_input_gradient(D, real).mean()
