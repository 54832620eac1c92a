"""Registries: clear errors for unknown names, no silent overwrites, user plugins."""

from __future__ import annotations

import textwrap

import pytest

import landscape
from landscape import (
    ARCHITECTURES,
    DATASETS,
    LOSSES,
    NORMALIZATIONS,
    PENALTIES,
    LossPair,
    Registry,
    UnknownNameError,
    load_plugin,
)

BUILTIN = [
    (LOSSES, {"hinge", "ls", "margin", "mm", "ns", "wgan"}),
    (PENALTIES, {"dragan", "gp", "l2", "none", "r1"}),
    (NORMALIZATIONS, {"bn", "ln", "none", "sn"}),
    (ARCHITECTURES, {"dcgan", "resnet19", "resnet_cifar", "sndcgan"}),
]
REGISTRIES = [registry for registry, _ in BUILTIN] + [DATASETS]


@pytest.mark.parametrize(("registry", "names"), BUILTIN, ids=[r.kind for r, _ in BUILTIN])
def test_builtin_names_are_registered(registry, names):
    assert names <= set(registry)
    assert list(registry) == sorted(registry)
    assert len(registry) == len(list(registry))


def test_unknown_loss_message_lists_the_valid_names():
    with pytest.raises(UnknownNameError) as err:
        LOSSES["hing"]
    assert str(err.value) == f"unknown loss 'hing'; choose from: {', '.join(sorted(LOSSES))}"
    assert "hinge, ls, margin, mm, ns, wgan" in str(err.value)


@pytest.mark.parametrize("registry", REGISTRIES, ids=lambda r: r.kind)
def test_unknown_name_in_every_registry(registry):
    with pytest.raises(UnknownNameError) as err:
        registry["no-such-thing"]
    message = str(err.value)
    assert message.startswith(f"unknown {registry.kind} 'no-such-thing'; choose from: ")
    assert message.endswith(", ".join(sorted(registry)))
    # It is both a KeyError (Mapping protocol) and a ValueError (bad configuration).
    assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)
    assert registry.get("no-such-thing") is None
    assert "no-such-thing" not in registry


def test_fresh_registry_message_is_exact():
    things: Registry = Registry("thing")
    things.register("beta")(len)
    things.register("alpha")(abs)
    with pytest.raises(UnknownNameError) as err:
        things["gamma"]
    assert str(err.value) == "unknown thing 'gamma'; choose from: alpha, beta"
    assert things["alpha"] is abs
    assert repr(things) == "Registry('thing': alpha, beta)"


def test_duplicate_registration_of_another_object_raises(restore_registries):
    def first(real, fake):
        return LossPair(d=real.mean(), g=fake.mean())

    def second(real, fake):
        return LossPair(d=real.mean(), g=fake.mean())

    assert LOSSES.register("tmp_dup")(first) is first
    assert LOSSES.register("tmp_dup")(first) is first  # the same object again is fine
    with pytest.raises(ValueError, match="already registered"):
        LOSSES.register("tmp_dup")(second)
    assert LOSSES["tmp_dup"] is first
    with pytest.raises(ValueError, match="already registered"):
        LOSSES.register("ns")(second)
    assert LOSSES["ns"] is not second


@pytest.mark.parametrize("name", ["", "has space", "semi;colon", "dot.ted"])
def test_invalid_names_are_refused(name):
    with pytest.raises(ValueError, match="invalid loss name"):
        LOSSES.register(name)


def test_restore_fixture_removed_earlier_entries():
    assert "tmp_dup" not in LOSSES
    assert "tmp_test_loss" not in LOSSES


PLUGIN = textwrap.dedent(
    """
    from landscape import LOSSES, PENALTIES, LossPair

    @LOSSES.register("tmp_test_loss")
    def tmp_test_loss(real, fake):
        return LossPair(d=(fake - real).mean() * 3, g=-fake.mean() * 3)

    @PENALTIES.register("tmp_test_penalty")
    def tmp_test_penalty(D, real, fake, *, weight=2.0):
        return weight * real.new_ones(())
    """
)


def test_user_plugin_registers_a_loss(tmp_path, restore_registries):
    import torch

    path = tmp_path / "my_variants.py"
    path.write_text(PLUGIN)
    module = load_plugin(path)
    loss = LOSSES["tmp_test_loss"](torch.tensor([1.0, 2.0]), torch.tensor([0.0, -1.0]))
    assert loss.d.item() == pytest.approx(-6.0)  # 3 * mean([-1, -3])
    assert loss.g.item() == pytest.approx(1.5)
    assert PENALTIES["tmp_test_penalty"](None, torch.zeros(1), torch.zeros(1)).item() == 2.0
    assert module.tmp_test_loss is LOSSES["tmp_test_loss"]
    # Loading the same file again (also by a relative-looking or str path) is a no-op.
    assert load_plugin(str(path)) is module
    assert load_plugin(tmp_path / "." / "my_variants.py") is module
    assert landscape.load_plugin is load_plugin


def test_plugin_missing_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope.py"
    with pytest.raises(FileNotFoundError, match="plugin file not found") as err:
        load_plugin(missing)
    assert str(missing) in str(err.value)


def test_plugin_must_be_python(tmp_path):
    path = tmp_path / "variants.txt"
    path.write_text("x = 1\n")
    with pytest.raises(ValueError, match=r"\.py"):
        load_plugin(path)


def test_plugin_that_fails_to_import_can_be_fixed_and_reloaded(tmp_path, restore_registries):
    path = tmp_path / "broken.py"
    path.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(RuntimeError, match="boom"):
        load_plugin(path)
    path.write_text(PLUGIN)
    load_plugin(path)
    assert "tmp_test_loss" in LOSSES


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_every_architecture_declares_its_resolutions(name):
    supported = ARCHITECTURES[name].resolutions
    assert supported and all(isinstance(r, int) and r % 16 == 0 for r in supported)
