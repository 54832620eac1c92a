"""What a penalty declares when it registers (issue 12.5): its lambda search range (PAPER.md
Table 2) and whether it differentiates D's input; the planner, the settings and the loop read
them from the entry, so a plugin penalty is searched on its own range."""

from __future__ import annotations

import math

import pytest
import torch
import yaml
from torch import nn

from landscape import PENALTIES
from landscape.study import load_study, search_cells
from landscape.study.plan import search_space
from landscape.study.settings import PAPER_PENALTY_RANGES
from landscape.train import RunSpec, train

SHAPE = (3, 4, 4)


def test_the_paper_penalties_declare_table_2():
    assert PENALTIES["gp"].search_range == (0.1, 100.0, True)
    assert PENALTIES["dragan"].search_range == (0.1, 100.0, True)
    assert PENALTIES["l2"].search_range == (1e-4, 10.0, True)
    assert PENALTIES["r1"].search_range == (0.1, 100.0, True)  # not in the paper: GP's
    assert PENALTIES["none"].search_range is None
    assert dict(PAPER_PENALTY_RANGES) == {
        name: PENALTIES[name].search_range for name in ("dragan", "gp", "l2", "r1")
    }


class Probe(nn.Module):
    """A linear critic that records whether its input asked for a gradient."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(math.prod(SHAPE), 1)
        self.input_grad: list[bool] = []

    def forward(self, x):
        self.input_grad.append(x.requires_grad)
        return self.fc(x.flatten(1)).squeeze(1)


@pytest.mark.parametrize("name", sorted(PENALTIES))
def test_needs_input_grad_says_what_the_penalty_does(name):
    D = Probe()
    real, fake = torch.rand(4, *SHAPE), torch.rand(4, *SHAPE)
    PENALTIES[name](D, real, fake, weight=1.0)
    assert any(D.input_grad) is PENALTIES[name].needs_input_grad
    expected = {"none": False, "l2": False, "gp": True, "dragan": True, "r1": True}
    assert PENALTIES[name].needs_input_grad is expected[name]


@pytest.mark.parametrize(
    "bad", [(1, 0.5, "log"), (0, 1, "log"), (1, 2, "cubic"), (1, 2), "wide", (1, "x", "log")]
)
def test_a_bad_search_range_is_refused_at_registration(bad, restore_registries):
    with pytest.raises(ValueError, match="penalty 'bad_range': search_range .* must be"):
        PENALTIES.register("bad_range", search_range=bad)
    assert "bad_range" not in PENALTIES


PLUGIN = """
from landscape import PENALTIES

@PENALTIES.register("plug_pen", search_range=(0.5, 2, "linear"), needs_input_grad=False)
def plug_pen(D, real, fake, *, weight=1.0):
    return weight * real.new_ones(()) * 0
"""


def test_a_plugin_penalty_is_searched_on_its_own_range(tmp_path, restore_registries):
    (tmp_path / "plug.py").write_text(PLUGIN)
    study = {
        "name": "t",
        "dataset": "digits",
        "budget": {"steps": 10, "eval_every": 5, "batch_size": 8},
        "model": {"width": 0.0625, "z_dim": 16},
        "plugins": ["plug.py"],
        "grid": {
            "loss": ["ns"],
            "penalty": ["plug_pen", "gp"],
            "normalization": ["sn"],
            "architecture": ["sndcgan"],
        },
        "hyperparameters": [{"lr": 1e-3, "n_disc": 1, "penalty_weight": 1}],
        "seeds": [0],
        "search": {"trials": 2},
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study))
    spec = load_study(tmp_path / "study.yaml")
    assert PAPER_PENALTY_RANGES["plug_pen"] == (0.5, 2.0, False)  # live: the plugin is in
    by_penalty = {sc.cell.penalty: search_space(spec, sc) for sc in search_cells(spec)}
    lam = by_penalty["plug_pen"]["penalty_weight"]
    assert (lam.low, lam.high, lam.log) == (0.5, 2.0, False)
    gp = by_penalty["gp"]["penalty_weight"]
    assert (gp.low, gp.high, gp.log) == (0.1, 100.0, True)
    # scope "space": one range over both penalties, linear because one of them is
    study["search"]["scope"] = "space"
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(study))
    space = load_study(tmp_path / "space.yaml")
    (sc, *_) = search_cells(space)
    assert sc.cell is None
    spanned = search_space(space, sc)["penalty_weight"]
    assert (spanned.low, spanned.high, spanned.log) == (0.1, 100.0, False)


def test_the_loop_compiles_d_only_for_penalties_without_input_gradients(
    tmp_path, monkeypatch, restore_registries
):
    (tmp_path / "plug.py").write_text(PLUGIN)
    from landscape.plugins import load_plugin

    load_plugin(tmp_path / "plug.py")
    compiled: list[str] = []
    record = lambda self, *a, **k: compiled.append(type(self).__name__)  # noqa: E731
    monkeypatch.setattr(nn.Module, "compile", record)
    base = dict(dataset="digits", architecture="sndcgan", width=1 / 32, z_dim=8, batch_size=4)
    for i, penalty in enumerate(["plug_pen", "gp"]):
        spec = RunSpec(**base, steps=1, eval_every=1, penalty=penalty)
        train(spec, tmp_path / f"run{i}", compile=True, progress=False)
    assert compiled == ["SNDCGANGenerator", "SNDCGANDiscriminator", "SNDCGANGenerator"]
