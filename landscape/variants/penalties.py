"""Discriminator penalties (PAPER.md section 2). Added to the D loss only: L_D += penalty.

Every penalty takes the discriminator ``D`` (a module returning logits), a real and a fake
batch **in [0, 1]** (the range D is fed, PAPER.md pitfall 2), and returns the weighted
penalty ``weight * P`` as a scalar tensor. ``fake`` must already be detached from G.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from landscape.registry import Registry

PENALTIES: Registry = Registry("penalty")

SLOPE_EPS = 1e-4  # inside the square root, as compare_gan does (PAPER.md pitfall 3)


def squared_input_gradient(D: nn.Module, x: Tensor) -> Tensor:
    """Per-sample sum of g^2, g = d logit / d x, keeping the graph so D can be trained on it."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return grad.square().flatten(1).sum(1)


def slope(D: nn.Module, x: Tensor) -> Tensor:
    """Per-sample s = sqrt(1e-4 + sum g^2) (compare_gan's slope)."""
    return torch.sqrt(SLOPE_EPS + squared_input_gradient(D, x))


@PENALTIES.register("none")
def no_penalty(D: nn.Module, real: Tensor, fake: Tensor, *, weight: float = 0.0) -> Tensor:
    """No penalty; ``weight`` is accepted and ignored so that every entry has one signature."""
    return real.new_zeros(())


@PENALTIES.register("gp")
def gradient_penalty(D: nn.Module, real: Tensor, fake: Tensor, *, weight: float = 10.0) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E (s - 1)^2 at x^ = x + a (x_f - x), a ~ U[0,1) per sample.

    Default weight 10 as in Gulrajani et al.; the paper's grid uses 1 and 10 (PAPER.md Table 1).
    """
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
    interpolates = real + alpha * (fake - real)
    return weight * (slope(D, interpolates) - 1).square().mean()


@PENALTIES.register("dragan")
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


@PENALTIES.register("l2")
def l2(D: nn.Module, real: Tensor, fake: Tensor, *, weight: float = 1.0) -> Tensor:
    """Weight decay on D's kernels as compare_gan: P = (1/L) sum_l 1/2 ||W_l||_F^2.

    The mean over the L layers of ``tf.nn.l2_loss``. Default weight 1 (paper grid: 1, 10).
    """
    weights = kernels(D)
    return weight * torch.stack([0.5 * w.square().sum() for w in weights]).mean()


@PENALTIES.register("r1")
def r1(D: nn.Module, real: Tensor, fake: Tensor, *, weight: float = 10.0) -> Tensor:
    """R1 (Mescheder et al. 2018; not in the paper): (gamma/2) E ||grad_x l(x)||^2 on real data.

    ``weight`` is gamma (default 10, the common choice).
    """
    return 0.5 * weight * squared_input_gradient(D, real).mean()
