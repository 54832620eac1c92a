"""Spectral normalization exactly as compare_gan's ``ops.spectral_norm`` (Miyato et al. 2018).

The kernel is viewed as W in R^{in x out} (TF layout; in = kh*kw*cin). A persistent,
non-trainable u in R^{in}, initialised N(0, 1), gets **one power iteration** per training
forward pass: v = l2norm(W^T u), u = l2norm(W v), u stored back. sigma = u^T W v with u and v
held constant for the gradient, and the layer uses W / sigma. (PyTorch's own
``spectral_norm`` keeps u on the output side; the two agree at convergence, PAPER.md 3.)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

NORM_EPS = 1e-12  # on the squared norm, as tf.math.l2_normalize


def _l2normalize(x: Tensor) -> Tensor:
    return x * torch.rsqrt(torch.clamp(x.square().sum(), min=NORM_EPS))


class SpectralNorm(nn.Module):
    """A parametrization ``weight -> weight / sigma(weight)`` with a persistent u vector."""

    def __init__(self, weight: Tensor) -> None:
        super().__init__()
        fan_in = weight[0].numel()
        self.register_buffer("u", torch.randn(fan_in, device=weight.device))

    def forward(self, weight: Tensor) -> Tensor:
        # PyTorch stores (out, in...) so W^T = weight.reshape(out, -1); v = l2norm(W^T u).
        w_t = weight.reshape(weight.shape[0], -1)
        with torch.no_grad():
            v = _l2normalize(w_t @ self.u)
            u = _l2normalize(w_t.t() @ v)
            if self.training:  # the power iteration persists only while training
                self.u.copy_(u)
        return weight / torch.dot(v, w_t @ u)


def spectral_norm(module: nn.Module) -> nn.Module:
    """Put compare_gan's spectral normalization on ``module.weight`` (in place; returns it)."""
    parametrize.register_parametrization(module, "weight", SpectralNorm(module.weight))
    return module
