"""A penalty's own keywords (variant_options.penalty.<name>) reach the penalty through RunSpec
and count in its run_id; without them, run_ids are what they were before the field existed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from landscape import ARCHITECTURES, PENALTIES
from landscape.study import grid_runs, load_study
from landscape.train import RunSpec
from landscape.train.update import GanUpdate

pytestmark = pytest.mark.usefixtures("one_thread")

ZGP = """
from landscape import PENALTIES

CALLS = []

@PENALTIES.register("zgp_test")
def zgp_test(D, real, fake, *, weight=1.0, center=1.0):
    CALLS.append({"weight": weight, "center": center})
    return real.new_zeros(()) + weight * center
"""


def study(tmp_path: Path, options: dict | None) -> Path:
    (tmp_path / "zgp.py").write_text(ZGP)
    data = {
        "name": "zgp",
        "dataset": "digits",
        "plugins": ["zgp.py"],
        "budget": {"steps": 2, "eval_every": 1, "batch_size": 4},
        "model": {"width": 0.0625, "z_dim": 8},
        "grid": {"loss": ["ns"], "penalty": ["zgp_test", "gp"], "architecture": ["sndcgan"]},
        "hyperparameters": [{"lr": 1e-3, "penalty_weight": 2}],
    }
    if options is not None:
        data["variant_options"] = {"penalty": options}
    path = tmp_path / f"study{len(list(tmp_path.glob('study*')))}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_penalty_keywords_join_the_run_and_its_id(tmp_path, restore_registries):
    default = {r.penalty: r for r in grid_runs(load_study(study(tmp_path, None)))}
    zero = {
        r.penalty: r
        for r in grid_runs(load_study(study(tmp_path, {"zgp_test": {"center": 0.0, "weight": 3}})))
    }
    assert default["zgp_test"].penalty_kwargs == {}
    assert zero["zgp_test"].penalty_kwargs == {"center": 0.0}  # weight is penalty_weight
    assert zero["zgp_test"].penalty_weight == 2  # the setting's lambda wins over the option's
    assert zero["zgp_test"].run_id != default["zgp_test"].run_id
    assert zero["gp"].run_id == default["gp"].run_id  # another penalty's keywords do not count
    assert "penalty_kwargs" in zero["zgp_test"].to_dict()
    assert "penalty_kwargs" not in default["gp"].to_dict()  # config.json as before
    assert RunSpec.from_dict(zero["zgp_test"].to_dict()) == zero["zgp_test"]


def test_run_ids_without_penalty_keywords_did_not_change():
    # Computed before penalty_kwargs existed (commit 05aabed): the field must stay out of the hash
    # (ids of training protocol 1, when they were computed; see test_protocol_version).
    v1 = {"protocol_version": 1}
    assert RunSpec(dataset="digits", architecture="sndcgan", **v1).run_id == "30f89fc72feb"
    spec = RunSpec(dataset="cifar10", architecture="resnet_cifar", penalty="gp", lr=1e-4, **v1)
    assert spec.run_id == "8fd06de9254b"


def test_the_training_step_passes_the_keywords_to_the_penalty(tmp_path, restore_registries):
    spec = next(
        r
        for r in grid_runs(load_study(study(tmp_path, {"zgp_test": {"center": 0.0}})))
        if r.penalty == "zgp_test"
    )
    calls = PENALTIES["zgp_test"].__globals__["CALLS"]
    G, D = ARCHITECTURES["sndcgan"](resolution=32, channels=1, norm="none", width=1 / 16, z_dim=8)
    out = GanUpdate(spec, G, D, torch.device("cpu"))(0, torch.rand(4, 1, 32, 32))
    assert calls == [{"weight": 2.0, "center": 0.0}]
    assert out.penalty.item() == 0.0  # weight * center


def test_the_readme_penalty_plugin_is_the_closed_form(tmp_path, restore_registries, linear_critic):
    """README.md's zero_gp.py, as printed: under D(x) = <w, x> every slope is ||w|| = c, so the
    penalty is weight * (c - center)^2; the study's `center: 0.0` reaches it."""
    import re

    from landscape import load_plugin

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    (code,) = re.findall(r"```python\n# zero_gp.py\n(.*?)```", readme, re.S)
    (tmp_path / "zero_gp.py").write_text(code)
    load_plugin(tmp_path / "zero_gp.py")
    D = linear_critic((1, 4, 4), 3.0)
    real, fake = torch.rand(5, 1, 4, 4), torch.rand(5, 1, 4, 4)
    assert PENALTIES["zgp"](D, real, fake, weight=2.0).item() == pytest.approx(2 * (3 - 1) ** 2)
    path = study(tmp_path, None)
    text = path.read_text().replace("zgp_test", "zgp").replace("zgp.py", "zero_gp.py")
    path.write_text(text + "variant_options: {penalty: {zgp: {center: 0.0}}}\n")
    (spec,) = [r for r in grid_runs(load_study(path)) if r.penalty == "zgp"]
    value = PENALTIES["zgp"](D, real, fake, weight=spec.penalty_weight, **spec.penalty_kwargs)
    assert value.item() == pytest.approx(2 * 3.0**2, rel=1e-5)
