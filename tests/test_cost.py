"""The cost estimate: FLOPs of the planned model, measured speeds first, evaluations counted."""

from __future__ import annotations

import argparse

import pytest
import yaml

from landscape.commands import plan
from landscape.cost.estimate import FACTORS, entries, estimate
from landscape.cost.flops import (
    eval_flops,
    evaluations,
    extractor_flops,
    host_work,
    step_flops,
)
from landscape.study import grid_runs, load_study
from landscape.train import RunSpec

SPEED = 4.0  # steps/s of the entries below


def run(**kw) -> RunSpec:
    base = dict(dataset="digits", architecture="sndcgan", steps=100, eval_every=50, width=0.125)
    return RunSpec(**{**base, **kw})


def entry(**kw) -> dict:
    """A throughput entry in the format bench/train_step.py --record writes (1 channel here,
    so a digits run at the bench's own setting is exactly the measured one)."""
    base = dict(
        architecture="sndcgan",
        width=0.125,
        batch=64,
        resolution=32,
        channels=1,
        device="cpu",
        device_name="test cpu",
        steps_per_second=SPEED,
        date="2026-12-01",
        torch="x",
    )
    return {**base, **kw}


def test_conv_net_flops_grow_about_quadratically_with_width():
    eighth, quarter = step_flops(run(width=0.125)), step_flops(run(width=0.25))
    # 4x if every layer were inner (channels x channels); the RGB/gray ends and the z
    # projection grow only linearly, so a little less
    # digits (1 channel), batch 64, z 128: 4.15 and 16.35 GFLOPs per step, ratio 3.94
    assert (eighth, quarter) == pytest.approx((4.146e9, 16.345e9), rel=0.001)
    assert 3.9 < quarter / eighth < 4.0
    # batch size is linear (every pass is over the batch)
    assert step_flops(run(batch_size=32)) == pytest.approx(eighth / 2, rel=0.01)


def test_the_penalty_and_n_disc_change_the_flops_of_a_step():
    plain = step_flops(run())
    gp = step_flops(run(penalty="gp"))
    assert 1.3 * plain < gp < 2.5 * plain  # another forward and a double backward through D
    # with n_disc 5 only one step in 5 pays for the G update: fewer FLOPs per D step
    assert step_flops(run(n_disc=5)) < 0.85 * plain


def test_a_measured_entry_is_used_for_its_own_setting():
    runs = [run(seed=s) for s in range(3)]
    cost = estimate(runs, {"entries": [entry()]})
    (line,) = cost.lines
    assert line.how == {"measured": 3} and not cost.unmeasured
    assert cost.train_hours == pytest.approx(3 * 100 / SPEED / 3600)
    assert cost.device == "cpu: test cpu"
    # the same entry prices a GP run by the FLOPs its penalty adds
    gp = estimate([run(penalty="gp")], {"entries": [entry()]})
    assert gp.lines[0].how == {"FLOP-adjusted": 1}
    ratio = step_flops(run(penalty="gp")) / step_flops(run())
    assert gp.train_hours == pytest.approx(100 / SPEED / 3600 * ratio)


def test_an_unmeasured_architecture_is_flop_scaled_not_unknown():
    table = {"entries": [entry(), entry(width=1.0, steps_per_second=0.5)]}
    target = run(architecture="resnet_cifar")
    cost = estimate([target], table)
    assert not cost.unmeasured and cost.train_hours > 0
    (how,) = cost.lines[0].how
    # scaled from the entry nearest in FLOPs: resnet_cifar at 1/8 is closer to sndcgan at 1/8
    assert how == "FLOP-scaled from sndcgan width 0.125 batch 64"
    rate = step_flops(run()) * SPEED
    assert cost.train_hours == pytest.approx(100 * step_flops(target) / rate / 3600)
    # the range widens with the distance in FLOPs from the reference: x2 x sqrt(ratio)
    distance = step_flops(target) / step_flops(run())
    assert 4 < distance < 6  # resnet_cifar has ~5x the FLOPs of SNDCGAN at the same width
    factor = FACTORS["FLOP-scaled"] * distance**0.5
    assert cost.lines[0].factor == pytest.approx(factor)
    assert cost.low == pytest.approx(cost.train_hours / factor + cost.eval_hours / 2)
    assert cost.high > cost.hours > cost.low
    # a bf16 run is not the fp32 run that was timed: scaled, and said to be
    (bf16,) = estimate([run(precision="bf16")], table).lines[0].how
    assert bf16 == "FLOP-scaled from sndcgan width 0.125 batch 64"
    # on a device kind nothing was measured on, the cost is unknown, and said to be
    assert estimate([target], table, device="cuda").unmeasured == ("resnet_cifar",)


def test_evaluations_add_to_the_total():
    assert evaluations(run(steps=100, eval_every=50)) == 3  # steps 0, 50, 100
    assert evaluations(run(steps=10, eval_every=4)) == 4  # 0, 4, 8 and the end
    one, many = run(eval_every=100), run(eval_every=10)
    a, b = (estimate([r], {"entries": [entry()]}) for r in (one, many))
    assert a.train_hours == pytest.approx(b.train_hours)
    rate = step_flops(run()) * SPEED
    assert b.eval_hours == pytest.approx(11 * eval_flops(many) / rate / 3600)
    assert b.hours == pytest.approx(b.train_hours + b.eval_hours) and b.hours > a.hours
    # DigitsNet on one 32x32 digit, by hand: two 3x3 convolutions at 16x16 and 8x8, two
    # linear layers, 2 FLOPs per multiply-add
    by_hand = 2 * (16 * 16 * 32 * 9 + 8 * 8 * 64 * 9 * 32 + 1024 * 64 + 64 * 10)
    assert extractor_flops("digits-cnn") == by_hand == 2_639_104
    # an evaluation is G on the fakes and the 64-fake sample grid, DigitsNet on the fakes, and
    # precision/recall's four n x n distance matrices of 64-d features (2 x 64 FLOPs a pair)
    # and density/coverage's two (real-real, real-fake)
    knn = (4 + 2) * 350**2 * 2 * 64
    g = (eval_flops(run()) - 350 * by_hand - knn) / (350 + 64)
    assert g > 0
    # 700 fakes against the 350 reals the digits test split gives
    assert eval_flops(run(eval_samples=700)) == pytest.approx(
        (700 + 64) * g + 700 * by_hand + ((700 + 350) ** 2 + 350**2 + 350 * 700) * 2 * 64
    )


def test_the_first_table_format_still_reads():
    legacy = {"device": "cpu: old", "width": 1.0, "batch": 64, "architectures": {"sndcgan": 2}}
    (e,) = entries(legacy)
    assert (e.architecture, e.width, e.batch, e.device, e.steps_per_second) == (
        "sndcgan",
        1.0,
        64,
        "cpu",
        2,
    )


def test_plan_prints_a_line_per_architecture_and_a_total(tmp_path, capsys, monkeypatch):
    study = {
        "name": "c",
        "dataset": "digits",
        "budget": {"steps": 100, "eval_every": 50, "batch_size": 64},
        "model": {"width": 0.125},
        "grid": {
            "loss": ["ns"],
            "penalty": ["none"],
            "normalization": ["none"],
            "architecture": ["sndcgan", "resnet_cifar"],
        },
        "hyperparameters": [{"lr": 1e-3, "n_disc": 1}],
        "seeds": [0, 1],
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(study))
    table = {"entries": [entry()]}
    monkeypatch.setattr("landscape.cost.estimate.load_throughput", lambda *a: table)
    args = argparse.Namespace(
        study=[path],
        storage=None,
        results=tmp_path,
        list=False,
        steps_per_second=None,
        device=None,
    )
    plan.run(args)
    out = capsys.readouterr().out
    cost = estimate(grid_runs(load_study(path)), table)
    lines = out.splitlines()
    snd = next(line for line in lines if line.startswith("    sndcgan: 2 runs, "))
    assert snd.endswith("; measured; typically within x1.3")
    res = next(line for line in lines if line.startswith("    resnet_cifar: 2 runs, "))
    factor = f"x{cost.lines[1].factor:.2g}"  # 2 x sqrt(FLOPs ratio), about 4.5
    assert res.endswith(
        f"; FLOP-scaled from sndcgan width 0.125 batch 64; typically within {factor}"
    )
    assert f"  total: about {cost.hours:,.2f} device-hours" in out
    assert [line.runs for line in cost.lines] == [2, 2]


def test_kid_and_fid_host_arithmetic_is_counted_when_the_host_was_measured():
    elements, flops = host_work(run())  # digits: 350 fakes vs 350 reals, 64-d features
    assert elements == 3 * 100 * 350 * 350  # 3 kernels x 100 subsets of m = 350
    assert flops == 3 * 100 * 2 * 350 * 350 * 64 + 25 * 64**3
    offline = RunSpec(dataset="mnist", architecture="sndcgan", extractor="mnist-cnn")
    assert host_work(offline)[0] == 3 * 100 * 1000**2  # 10K fakes vs 10K test digits, m = 1000
    assert host_work(offline)[1] == 3 * 100 * 2 * 1000**2 * 128 + 25 * 128**3  # 128-d
    cifar = RunSpec(dataset="cifar10", architecture="sndcgan", steps=10, eval_every=10)
    assert host_work(cifar) == (3 * 100 * 1000**2, 3 * 100 * 2 * 1000**2 * 2048 + 25 * 2048**3)
    host = {"seconds_per_element": 1e-8, "flops_per_second": 1e10}
    without = estimate([run()], {"entries": [entry()]})
    with_host = estimate([run()], {"entries": [entry()], "host": {"cpu": host}})
    assert with_host.train_hours == without.train_hours
    assert with_host.host_counted and not without.host_counted
    extra = evaluations(run()) * (elements * 1e-8 + flops / 1e10) / 3600
    assert with_host.eval_hours == pytest.approx(without.eval_hours + extra)


# -- pricing per distinct model, FLOP counts kept on disk (cost/cache.py) --------------------------
def distinct_runs():
    """A grid whose runs share models: 2 losses x 2 lrs x 2 seeds of 2 models (penalty, n_disc)."""
    base = [run(penalty=p, n_disc=n) for p, n in (("none", 1), ("gp", 2))]
    return [
        r.with_(loss=loss, lr=lr, seed=seed, steps=100 * (1 + seed))
        for r in base
        for loss in ("ns", "hinge")
        for lr in (1e-4, 1e-3)
        for seed in (0, 1)
    ]


def test_the_estimate_per_model_with_counts_on_disk_equals_the_per_run_one(tmp_path):
    from landscape.cost.cache import FlopCounts
    from landscape.cost.estimate import cost_key

    runs, table = distinct_runs(), {"entries": [entry()]}
    assert len({cost_key(r) for r in runs}) == 2 and len(runs) == 16
    old = estimate(runs, table, counts=FlopCounts(), per_run=True)
    disk = tmp_path / "flops.json"
    first = FlopCounts(disk)
    assert estimate(runs, table, counts=first) == old
    # counted once per model: 2 models' step and eval counts, the entry's own step count
    assert sorted(k.split(":")[0] for k in first.values) == ["eval", "eval", "step", "step"]
    again = FlopCounts(disk)
    assert estimate(runs, table, counts=again) == old and again.added == 0  # all read back
    for r in runs:  # to the FLOP, and of the same type
        assert again.step(r) == step_flops(r) and again.eval(r) == eval_flops(r)
    assert old.lines[0].runs == 16


def test_counts_of_other_code_are_never_read(tmp_path, monkeypatch):
    from landscape.cost import cache

    disk = tmp_path / "flops.json"
    counts = cache.FlopCounts(disk)
    counts.step(run())
    counts.save()
    assert cache.FlopCounts(disk).values  # same code: read back
    monkeypatch.setattr(cache, "fingerprint", lambda: "a changed variant")
    assert cache.FlopCounts(disk).values == {}  # counted again, never a stale number


def test_a_plugin_file_is_part_of_the_fingerprint(tmp_path):
    from landscape import ARCHITECTURES
    from landscape.cost.cache import fingerprint
    from landscape.plugins import load_plugin_for

    before = fingerprint()
    plugin = tmp_path / "my_arch.py"
    plugin.write_text(
        "from landscape import ARCHITECTURES\n"
        "BASE = ARCHITECTURES['sndcgan']\n"
        "@ARCHITECTURES.register('my_arch_for_the_fingerprint')\n"
        "def mine(**kw):\n    return BASE(**kw)\n"
    )
    try:
        load_plugin_for(str(plugin), "test")
        with_plugin = fingerprint()
        plugin.write_text(plugin.read_text() + "# changed\n")
        assert len({before, with_plugin, fingerprint()}) == 3
    finally:
        ARCHITECTURES._entries.pop("my_arch_for_the_fingerprint", None)


@pytest.mark.slow
def test_a_paper_study_is_priced_identically_per_model_and_per_run(tmp_path):
    """cifar10_loss, 1,980 runs (grid and the search's stand-ins): the same Estimate, to the
    last bit, whether each run is priced on its own or each of its 6 models once from disk."""
    from pathlib import Path

    from landscape.commands.plan import search_runs_left
    from landscape.cost.cache import FlopCounts

    path = Path(__file__).resolve().parents[1] / "studies" / "paper" / "cifar10_loss.yaml"
    study = load_study(path)
    runs = grid_runs(study) + search_runs_left(study, None)
    assert len(runs) == 1980
    old = estimate(runs, counts=FlopCounts(), per_run=True)
    estimate(runs, counts=FlopCounts(tmp_path / "flops.json"))
    cached = FlopCounts(tmp_path / "flops.json")
    assert estimate(runs, counts=cached) == old and cached.added == 0
    assert old.hours > 0 and sum(line.runs for line in old.lines) == 1980
    for r in {r.n_disc: r for r in runs}.values():
        assert cached.step(r) == step_flops(r)
