"""One optimisation step of D then G on CPU for every loss x penalty x normalization, and a
double-backprop step through spectral norm for every architecture."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from landscape import ARCHITECTURES, LOSSES, NORMALIZATIONS, PENALTIES

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = 1 / 32
BATCH = 4


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def changed(module: nn.Module, before: dict[str, torch.Tensor]) -> set[str]:
    return {k for k, v in module.named_parameters() if not torch.equal(v, before[k])}


def one_step(arch: str, resolution: int, loss: str, penalty: str, norm: str, batch: int = BATCH):
    """compare_gan's step: D on real and fake (separate calls) plus the penalty, then G on the
    same fakes. Returns the three scalars after checking what each update touched."""
    G, D = ARCHITECTURES[arch](resolution=resolution, norm=norm, width=TINY)
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    real = torch.rand(batch, 3, resolution, resolution)
    fake = G(G.sample_z(batch))
    g_before, d_before = snapshot(G), snapshot(D)

    d_real = D(real)
    pair = LOSSES[loss](d_real, D(fake.detach()))
    reg = PENALTIES[penalty](D, real, fake.detach(), weight=1.0)
    opt_d.zero_grad(set_to_none=True)
    (pair.d + reg).backward()
    opt_d.step()
    assert changed(G, g_before) == set()  # the D step never reaches G
    assert all(p.grad is None for p in G.parameters())
    d_moved = changed(D, d_before)
    assert any(k.startswith("fc.") for k in d_moved)  # the final linear layer
    assert any(k.startswith(("body.0.", "blocks.0.")) for k in d_moved)  # and the first layer

    g_loss = LOSSES[loss](d_real.detach(), D(fake)).g
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    g_moved = changed(G, g_before)
    assert "fc.weight" in g_moved  # the gradient went through all of G
    last = [n for n, m in G.named_modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)][-1]
    assert f"{last}.weight" in g_moved
    return pair.d.detach(), reg.detach(), g_loss.detach()


@pytest.mark.parametrize("norm", sorted(NORMALIZATIONS))
@pytest.mark.parametrize("penalty", sorted(PENALTIES))
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_one_step_every_combination(loss, penalty, norm):
    d, reg, g = one_step("sndcgan", 32, loss, penalty, norm)
    for value in (d, reg, g):
        assert value.shape == () and torch.isfinite(value)
    if penalty == "none":
        assert reg.item() == 0.0
    elif penalty == "l2":
        assert reg.item() > 0.0


@pytest.mark.parametrize(
    ("arch", "resolution", "batch"),
    [("sndcgan", 32, 4), ("dcgan", 32, 4), ("resnet_cifar", 32, 4), ("resnet19", 128, 2)],
)
def test_gradient_penalty_backprops_through_spectral_norm(arch, resolution, batch):
    G, D = ARCHITECTURES[arch](resolution=resolution, norm="sn", width=TINY)
    real = torch.rand(batch, 3, resolution, resolution)
    with torch.no_grad():
        fake = G(G.sample_z(batch))
    reg = PENALTIES["gp"](D, real, fake, weight=10.0)
    layers = [m for m in D.modules() if parametrize.is_parametrized(m, "weight")]
    raw = [m.parametrizations.weight.original for m in layers]
    grads = torch.autograd.grad(reg, raw)
    assert len(grads) == {"sndcgan": 8, "dcgan": 5, "resnet_cifar": 13, "resnet19": 19}[arch]
    for g in grads:  # the penalty alone trains every raw kernel, through W / sigma
        assert torch.isfinite(g).all() and g.abs().sum() > 0
    d, reg, g_loss = one_step(arch, resolution, "ns", "gp", "sn", batch)
    assert all(torch.isfinite(v) for v in (d, reg, g_loss)) and reg.item() > 0
