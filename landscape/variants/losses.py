"""GAN losses (PAPER.md section 1 and Appendix B).

Every loss takes the discriminator's *logits* on a real and a fake batch (shape ``(B,)`` or
``(B, 1)``) and returns both players' losses as one ``LossPair``; the penalty (if any) is
added to ``.d`` by the training loop. ``sp`` below is softplus, ``sp(t) = log(1 + e^t)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from landscape.registry import Registry

LOSSES: Registry = Registry("loss")


@dataclass(frozen=True)
class LossPair:
    """Scalar losses of the discriminator (``d``) and of the generator (``g``)."""

    d: Tensor
    g: Tensor


@LOSSES.register("ns")
def non_saturating(real: Tensor, fake: Tensor) -> LossPair:
    """Non-saturating GAN (Goodfellow et al. 2014); compare_gan ``GAN_PENALTY``.

    L_D = E sp(-l_r) + E sp(l_f) (binary cross-entropy on logits), L_G = E sp(-l_f).
    """
    return LossPair(
        d=F.softplus(-real).mean() + F.softplus(fake).mean(), g=F.softplus(-fake).mean()
    )


@LOSSES.register("mm")
def minimax(real: Tensor, fake: Tensor) -> LossPair:
    """The original minimax GAN with the saturating G loss (Goodfellow et al. 2014).

    L_D as ``ns``; L_G = -E sp(l_f) = E log(1 - sigmoid(l_f)). Not in the paper's study.
    """
    return LossPair(
        d=F.softplus(-real).mean() + F.softplus(fake).mean(), g=-F.softplus(fake).mean()
    )


@LOSSES.register("ls")
def least_squares(real: Tensor, fake: Tensor) -> LossPair:
    """Least-squares GAN (Mao et al. 2017) exactly as compare_gan ``LSGAN_PENALTY`` defines it.

    Acts on the **sigmoid outputs** s = sigmoid(logit), not on the logits (PAPER.md pitfall 1):
    L_D = 1/2 [E (s_r - 1)^2 + E s_f^2],  L_G = 1/2 E (s_f - 1)^2.
    """
    s_real, s_fake = torch.sigmoid(real), torch.sigmoid(fake)
    d = 0.5 * ((s_real - 1).square().mean() + s_fake.square().mean())
    return LossPair(d=d, g=0.5 * (s_fake - 1).square().mean())


@LOSSES.register("wgan")
def wasserstein(real: Tensor, fake: Tensor) -> LossPair:
    """Wasserstein GAN (Arjovsky et al. 2017): L_D = -E l_r + E l_f, L_G = -E l_f.

    No weight clipping: the Lipschitz constraint comes only from a penalty or from SN.
    """
    return LossPair(d=fake.mean() - real.mean(), g=-fake.mean())


@LOSSES.register("hinge")
def hinge(real: Tensor, fake: Tensor) -> LossPair:
    """Hinge loss (Lim & Ye 2017): L_D = E relu(1 - l_r) + E relu(1 + l_f), L_G = -E l_f."""
    return LossPair(d=F.relu(1 - real).mean() + F.relu(1 + fake).mean(), g=-fake.mean())


@LOSSES.register("margin")
def margin(real: Tensor, fake: Tensor, *, m: float = 1.0) -> LossPair:
    """Energy-based margin loss (Zhao et al. 2017 style; PAPER.md Appendix B, our addition).

    Cost C(x) = sp(-l(x)); L_D = E C(x_r) + E max(0, m - C(x_f)); L_G = E C(x_f).
    ``m`` is the margin (default 1.0).
    """
    cost_real, cost_fake = F.softplus(-real), F.softplus(-fake)
    return LossPair(d=cost_real.mean() + F.relu(m - cost_fake).mean(), g=cost_fake.mean())
