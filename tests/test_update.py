"""GanUpdate, one step of the paper's protocol, tested directly (issue 12.7): the n_disc
schedule, which network each step changes, and that the G step reuses the step's z against
the freshly updated D."""

from __future__ import annotations

import copy

import pytest
import torch

from landscape import ARCHITECTURES, LOSSES
from landscape.train import RunSpec
from landscape.train.update import GanUpdate

pytestmark = pytest.mark.usefixtures("one_thread")


def setup(n_disc: int, norm: str = "none", penalty: str = "none"):
    spec = RunSpec(
        dataset="digits",
        architecture="sndcgan",
        normalization=norm,
        penalty=penalty,
        n_disc=n_disc,
        lr=1e-2,
        width=1 / 32,
        z_dim=8,
        batch_size=4,
    )
    G, D = ARCHITECTURES["sndcgan"](resolution=32, channels=1, norm=norm, z_dim=8, width=1 / 32)
    return GanUpdate(spec, G, D, torch.device("cpu")), G, D


def params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def changed(before: list[torch.Tensor], module: torch.nn.Module) -> bool:
    return any(not torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))


@pytest.mark.parametrize("n_disc", [1, 3])
def test_d_steps_every_step_and_g_every_n_disc_steps(n_disc):
    update, G, D = setup(n_disc)
    g_steps, d_steps = [], []
    for step in range(7):
        g0, d0 = params(G), params(D)
        update(step, torch.rand(4, 1, 32, 32))
        g_steps += [step] if changed(g0, G) else []
        d_steps += [step] if changed(d0, D) else []
    assert d_steps == list(range(7))
    assert g_steps == [s for s in range(7) if s % n_disc == 0]  # 0, 3, 6 for n_disc 3


@pytest.mark.parametrize("norm", ["none", "sn", "bn"])
def test_the_g_step_changes_g_only_and_reuses_the_step_z_against_the_new_d(norm):
    """Record z (G's one forward), and D right after its own Adam step; the G loss the step
    reports must be loss(D_new(G_old(z))) and D must be exactly as its own step left it."""
    update, G, D = setup(n_disc=2, norm=norm)
    update(0, torch.rand(4, 1, 32, 32))  # the first step: Adam state exists for both
    seen_z: list[torch.Tensor] = []
    G.register_forward_pre_hook(lambda m, args: seen_z.append(args[0].clone()))
    after_d_step: dict[str, object] = {}
    d_step = update.opt_d.step

    def record_d(*args, **kwargs):
        out = d_step(*args, **kwargs)
        after_d_step["D"] = copy.deepcopy(D)
        return out

    update.opt_d.step = record_d
    real = torch.rand(4, 1, 32, 32)
    G_old = copy.deepcopy(G)
    d_real_old = copy.deepcopy(D)(real)  # D's logits on real before its update
    out = update(2, real)  # a G turn (2 % 2 == 0)

    assert len(seen_z) == 1  # one G forward: the G step reuses the D step's fakes
    D_new = after_d_step["D"]
    for a, b in zip(D_new.parameters(), D.parameters(), strict=True):
        assert torch.equal(a, b)  # the G step did not move D
    assert all(p.requires_grad for p in D.parameters())  # and gave D its gradients back
    assert changed(params(G_old), G)
    expected = LOSSES["ns"](d_real_old, D_new(G_old(seen_z[0]))).g
    torch.testing.assert_close(out.loss_g, expected.detach(), rtol=1e-6, atol=1e-7)


def test_a_d_only_step_leaves_g_and_its_optimizer_alone():
    update, G, D = setup(n_disc=5)
    update(0, torch.rand(4, 1, 32, 32))
    g0, opt_g0 = params(G), copy.deepcopy(update.opt_g.state_dict())
    d0 = params(D)
    update(1, torch.rand(4, 1, 32, 32))
    assert not changed(g0, G) and changed(d0, D)
    assert update.opt_g.state_dict()["state"][0]["step"] == opt_g0["state"][0]["step"] == 1
    assert update.opt_d.state_dict()["state"][0]["step"] == 2


def test_the_penalty_goes_into_d_loss_and_out_of_g():
    update, G, D = setup(n_disc=1, penalty="gp")
    out = update(0, torch.rand(4, 1, 32, 32))
    assert out.penalty.item() > 0 and bool(out.finite)
    assert out.loss_d.shape == out.loss_g.shape == ()


def test_the_schedule_of_the_loop():
    from landscape.train.schedule import Schedule

    s = Schedule(steps=10, eval_every=4, checkpoint_every=3, log_every=2, sync_every=5)
    steps = range(1, 11)
    assert [d for d in steps if s.evaluates(d)] == [4, 8, 10]  # and step 0, before the loop
    assert [d for d in steps if s.checkpoints(d)] == [3, 6, 9, 10]
    assert [d for d in steps if s.logs(d)] == [2, 4, 6, 8, 10]
    # read back before anything is recorded: at syncs, evaluations and checkpoints
    assert [d for d in steps if s.checks_divergence(d)] == [3, 4, 5, 6, 8, 9, 10]
