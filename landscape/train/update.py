"""One training step of the paper's protocol (PAPER.md 6): a D update, and a G update every
``n_disc`` steps using the same z (G's batch norms count that batch twice, pitfall 5). Kept
apart from the loop's bookkeeping so it reads at once."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from landscape.train.spec import RunSpec
from landscape.variants import LOSSES, PENALTIES, Generator, LossPair
from landscape.variants.batchnorm import folded


@dataclass
class StepOutput:
    loss_d: Tensor
    loss_g: Tensor
    penalty: Tensor
    finite: Tensor  # bool scalar: losses, D outputs and samples all finite
    d_real: Tensor | None = None  # D's mean logit on the real batch (for watching; detached)
    d_fake: Tensor | None = None  # and on the fakes


class GanUpdate:
    """Holds G, D, their Adam optimizers and the chosen loss and penalty."""

    def __init__(self, spec: RunSpec, G: Generator, D: nn.Module, device: torch.device) -> None:
        self.spec, self.G, self.D, self.device = spec, G, D, device
        self.loss = LOSSES[spec.loss]
        self.penalty = PENALTIES[spec.penalty]
        betas = (spec.beta1, spec.beta2)
        # Two Adam instances, one learning rate, eps 1e-8, no decay, no EMA (PAPER.md 6).
        self.opt_g = torch.optim.Adam(G.parameters(), lr=spec.lr, betas=betas, eps=1e-8)
        self.opt_d = torch.optim.Adam(D.parameters(), lr=spec.lr, betas=betas, eps=1e-8)
        self.bf16 = spec.precision == "bf16"
        self.twice = spec.protocol_version >= 2  # version 1 took G's batch once (spec.py)

    def autocast(self) -> contextlib.AbstractContextManager:
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def __call__(self, step: int, real: Tensor) -> StepOutput:
        """D step ``step`` (0-based) on ``real`` in [0, 1]; then a G step when step % n_disc == 0
        (compare_gan: (step - 1) mod n_disc == 0 with 1-based steps)."""
        g_turn = step % self.spec.n_disc == 0
        z = self.G.sample_z(real.shape[0], device=self.device)
        with self.autocast():
            # On a G turn keep G's graph: the G step reuses these fakes (same z, G unchanged),
            # and G's batch norms take this batch twice, as compare_gan's second forward does.
            with contextlib.nullcontext() if g_turn else torch.no_grad():
                with folded(self.G, 2 if g_turn and self.twice else 1):
                    fake = self.G(z)
            d_real = self.D(real)
            d_fake = self.D(fake.detach())
            losses: LossPair = self.loss(d_real, d_fake, **self.spec.loss_kwargs)
        # Penalties in fp32: double backprop through W / sigma is fragile (PAPER.md pitfall 3).
        penalty = self.penalty(
            self.D,
            real,
            fake.detach().float(),
            weight=self.spec.penalty_weight,
            **self.spec.penalty_kwargs,
        )
        self.opt_d.zero_grad(set_to_none=True)
        (losses.d + penalty).backward()
        self.opt_d.step()
        finite = torch.isfinite(torch.stack([losses.d.float(), losses.g.float(), penalty]))
        finite = finite.all() & torch.isfinite(d_real).all() & torch.isfinite(d_fake).all()
        finite = finite & torch.isfinite(fake.detach()).all()
        loss_g = losses.g.detach()
        if g_turn:
            loss_g = self.generator_step(fake, d_real.detach())
        means = d_real.detach().float().mean(), d_fake.detach().float().mean()
        return StepOutput(losses.d.detach(), loss_g, penalty.detach(), finite, *means)

    def generator_step(self, fake: Tensor, d_real: Tensor) -> Tensor:
        """G update against the freshly updated D. ``d_real`` are D's logits on this step's real
        batch from before D's update: no paper loss uses them for G, and relativistic losses
        get them without another D pass."""
        self.D.requires_grad_(False)  # gradients flow through D to G, not into D's weights
        try:
            with self.autocast():
                loss_g = self.loss(d_real, self.D(fake), **self.spec.loss_kwargs).g
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g.step()
        finally:
            self.D.requires_grad_(True)
        return loss_g.detach()
