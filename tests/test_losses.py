"""Losses against independent numpy closed forms (PAPER.md section 1 and Appendix B)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from landscape import LOSSES, LossPair

pytestmark = pytest.mark.usefixtures("one_thread")

REAL = np.array([2.0, -1.0, 0.5])
FAKE = np.array([-0.3, 1.5, -2.0])
B = len(REAL)


def sp(t):
    return np.logaddexp(0.0, t)


def sig(t):
    return 1.0 / (1.0 + np.exp(-t))


def reference(name: str, r: np.ndarray, f: np.ndarray, m: float = 1.0) -> dict[str, np.ndarray]:
    """L_D, L_G and their gradients (dD/dreal, dD/dfake, dG/dfake), written out by hand."""
    sr, sf = sig(r), sig(f)
    if name in ("ns", "mm"):
        d = sp(-r).mean() + sp(f).mean()
        dd_r, dd_f = -sig(-r), sf
        if name == "ns":
            g, dg_f = sp(-f).mean(), -sig(-f)
        else:
            g, dg_f = -sp(f).mean(), -sf
    elif name == "ls":  # on sigmoid outputs, with the factor 1/2 (compare_gan LSGAN_PENALTY)
        d = 0.5 * (((sr - 1) ** 2).mean() + (sf**2).mean())
        g = 0.5 * ((sf - 1) ** 2).mean()
        dd_r, dd_f = (sr - 1) * sr * (1 - sr), sf * sf * (1 - sf)
        dg_f = (sf - 1) * sf * (1 - sf)
    elif name == "wgan":
        d, g = -r.mean() + f.mean(), -f.mean()
        dd_r, dd_f, dg_f = -np.ones_like(r), np.ones_like(f), -np.ones_like(f)
    elif name == "hinge":
        d = np.maximum(0, 1 - r).mean() + np.maximum(0, 1 + f).mean()
        g = -f.mean()
        dd_r, dd_f, dg_f = -(1 - r > 0).astype(float), (1 + f > 0).astype(float), -np.ones_like(f)
    elif name == "margin":
        cr, cf = sp(-r), sp(-f)
        d, g = cr.mean() + np.maximum(0, m - cf).mean(), cf.mean()
        dd_r, dd_f, dg_f = -sig(-r), sig(-f) * (m - cf > 0), -sig(-f)
    else:
        raise AssertionError(name)
    return {"d": d, "g": g, "dd_r": dd_r / len(r), "dd_f": dd_f / len(f), "dg_f": dg_f / len(f)}


KNOWN = ["ns", "mm", "ls", "wgan", "hinge", "margin"]


def evaluate(name: str, r: np.ndarray, f: np.ndarray, shape=(-1,), **kwargs):
    real = torch.tensor(r, dtype=torch.float32).reshape(shape).requires_grad_(True)
    fake = torch.tensor(f, dtype=torch.float32).reshape(shape).requires_grad_(True)
    loss = LOSSES[name](real, fake, **kwargs)
    dd_r, dd_f = torch.autograd.grad(loss.d, (real, fake), allow_unused=True, retain_graph=True)
    (dg_f,) = torch.autograd.grad(loss.g, fake)
    dd_r = torch.zeros_like(real) if dd_r is None else dd_r
    dd_f = torch.zeros_like(fake) if dd_f is None else dd_f
    return {
        "d": loss.d.item(),
        "g": loss.g.item(),
        "dd_r": dd_r.flatten().numpy(),
        "dd_f": dd_f.flatten().numpy(),
        "dg_f": dg_f.flatten().numpy(),
    }


def test_reference_values_are_what_the_paper_writes():
    """Spot-check the numpy references themselves on hand-computed numbers."""
    assert reference("ns", np.zeros(1), np.zeros(1))["d"] == pytest.approx(2 * np.log(2))
    assert reference("ls", np.zeros(1), np.zeros(1))["d"] == pytest.approx(0.5 * (0.25 + 0.25))
    assert reference("ls", np.zeros(1), np.zeros(1))["g"] == pytest.approx(0.125)
    assert reference("hinge", np.array([2.0]), np.array([-2.0]))["d"] == 0.0
    assert reference("margin", np.array([50.0]), np.array([-50.0]))["d"] == pytest.approx(0.0)


@pytest.mark.parametrize("shape", [(-1,), (-1, 1)], ids=["B", "Bx1"])
@pytest.mark.parametrize("name", KNOWN)
def test_loss_values_and_gradients_match_numpy(name, shape):
    got, want = evaluate(name, REAL, FAKE, shape), reference(name, REAL, FAKE)
    assert got["d"] == pytest.approx(want["d"], abs=1e-6)
    assert got["g"] == pytest.approx(want["g"], abs=1e-6)
    for key in ("dd_r", "dd_f", "dg_f"):
        np.testing.assert_allclose(got[key], want[key], atol=1e-6, err_msg=key)


def test_literal_values():
    """A few of the numbers above, frozen, so a broken reference cannot hide a broken loss."""
    r, f = torch.tensor(REAL).float(), torch.tensor(FAKE).float()
    assert LOSSES["wgan"](r, f).d.item() == pytest.approx(-0.5 - 0.8 / 3, abs=1e-6)
    assert LOSSES["wgan"](r, f).g.item() == pytest.approx(0.8 / 3, abs=1e-6)
    assert LOSSES["hinge"](r, f).d.item() == pytest.approx(1.9, abs=1e-6)  # (2.5 + 3.2) / 3
    assert LOSSES["ns"](r, f).g.item() == pytest.approx(1.0608988, abs=1e-6)


@pytest.mark.parametrize("m", [1.0, 0.5, 2.5])
def test_margin_loss_with_other_margins(m):
    got, want = evaluate("margin", REAL, FAKE, m=m), reference("margin", REAL, FAKE, m=m)
    assert got["d"] == pytest.approx(want["d"], abs=1e-6)
    assert got["g"] == pytest.approx(want["g"], abs=1e-6)
    np.testing.assert_allclose(got["dd_f"], want["dd_f"], atol=1e-6)


def test_margin_default_is_one_and_margin_matters():
    r, f = torch.tensor(REAL).float(), torch.tensor(FAKE).float()
    assert LOSSES["margin"](r, f).d.item() == LOSSES["margin"](r, f, m=1.0).d.item()
    assert LOSSES["margin"](r, f, m=2.5).d.item() > LOSSES["margin"](r, f).d.item() + 0.1


def test_where_gradients_vanish():
    """Hinge: no gradient once the margin is met; margin loss: none on fakes with C(x_f) > m."""
    hinge = evaluate("hinge", REAL, FAKE)
    assert hinge["dd_r"][0] == 0.0 and hinge["dd_f"][2] == 0.0  # l_r = 2 >= 1, l_f = -2 <= -1
    margin = evaluate("margin", REAL, FAKE, m=1.0)
    assert sp(-FAKE[2]) > 1.0 and margin["dd_f"][2] == 0.0
    assert margin["dd_f"][0] > 0 and margin["dd_f"][1] > 0
    # mm saturates but keeps the right sign: dL_G/dl_f = -sigmoid(l_f) / B.
    mm = evaluate("mm", REAL, np.array([-8.0, -4.0, 0.0]))
    assert np.all(mm["dg_f"] < 0) and mm["dg_f"][0] > -1e-3


@pytest.mark.parametrize("name", KNOWN)
def test_gradient_signs_on_the_fixed_logits(name):
    """D pushes real logits up and fake logits down, G pushes fake logits up (weakly:
    hinge and margin are flat where their margin is met)."""
    got = evaluate(name, REAL, FAKE)
    assert np.all(got["dd_r"] <= 0) and np.any(got["dd_r"] < 0)
    assert np.all(got["dd_f"] >= 0) and np.any(got["dd_f"] > 0)
    assert np.all(got["dg_f"] < 0)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_has_strict_gradient_signs_near_zero_logits(name):
    """Near the decision boundary no loss is flat: each player gets a strict push."""
    r = np.array([-0.4, -0.1, 0.0, 0.2, 0.45])
    got = evaluate(name, r, r[::-1].copy())
    assert np.all(got["dd_r"] < 0), got["dd_r"]
    assert np.all(got["dd_f"] > 0), got["dd_f"]
    assert np.all(got["dg_f"] < 0), got["dg_f"]


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_returns_finite_scalars(name):
    extreme = torch.tensor([60.0, -60.0, 0.0, 15.0], requires_grad=True)
    for real, fake in ((torch.randn(8), torch.randn(8)), (extreme, extreme.flip(0))):
        for shape in ((-1,), (-1, 1)):
            loss = LOSSES[name](real.reshape(shape), fake.reshape(shape))
            assert isinstance(loss, LossPair)
            assert loss.d.shape == () and loss.g.shape == ()
            assert torch.isfinite(loss.d) and torch.isfinite(loss.g)
    loss = LOSSES[name](extreme, extreme.flip(0))
    (grad,) = torch.autograd.grad(loss.d + loss.g, extreme)
    assert torch.isfinite(grad).all()


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_shape_b_and_b1_agree(name):
    real, fake = torch.randn(6), torch.randn(6)
    flat, column = LOSSES[name](real, fake), LOSSES[name](real[:, None], fake[:, None])
    assert flat.d.item() == pytest.approx(column.d.item(), abs=1e-7)
    assert flat.g.item() == pytest.approx(column.g.item(), abs=1e-7)


def test_loss_pair_is_frozen():
    pair = LossPair(d=torch.zeros(()), g=torch.ones(()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        pair.d = torch.ones(())  # type: ignore[misc]
