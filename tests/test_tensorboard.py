"""Watching training: each run writes TensorBoard event files in its folder, read back here with
TensorBoard's own reader; a resumed run repeats no step; without tensorboard a run trains and
says once how to turn the logs on; without a progress bar a status line is printed."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from landscape.train import RunSpec, train
from landscape.train import watch as watch_module
from landscape.train.records import read_jsonl

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="the `watch` extra (tensorboard) is not installed",
)

TINY = dict(
    dataset="digits", architecture="sndcgan", width=1 / 16, batch_size=16, steps=12,
    eval_every=4, seed=5,
)  # fmt: skip
KW = dict(checkpoint_every=3, log_every=1, progress=False)
pytestmark = pytest.mark.slow  # each trains a tiny GAN for 12 steps (or twice)


def fid_of(run: Path):
    def hook(G):  # a made-up score: the evaluation's number, known in advance
        return {"fid": 100.0 - len(read_jsonl(run / "evals.jsonl")), "note": None}

    return hook


def scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    acc = event_accumulator.EventAccumulator(str(run))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("tb") / "run"
    assert train(RunSpec(**TINY), run, evaluate=fid_of(run), **KW).status == "ok"
    return run


def test_the_curves_are_the_logs_numbers(reference):
    tags = scalars(reference)
    expected = {"train/" + k for k in ("loss_d", "loss_g", "penalty", "d_real", "d_fake")}
    assert expected | {"train/grad_norm_d", "train/grad_norm_g", "eval/fid"} <= set(tags)
    logged = read_jsonl(reference / "train.jsonl")
    assert [s for s, _ in tags["train/loss_d"]] == list(range(1, 13))
    for key in ("loss_d", "loss_g"):
        assert [v for _, v in tags[f"train/{key}"]] == pytest.approx([r[key] for r in logged])
    assert tags["eval/fid"] == [(0, 100.0), (4, 99.0), (8, 98.0), (12, 97.0)]
    assert all(v > 0 for _, v in tags["train/grad_norm_d"])


def test_a_resumed_run_repeats_no_step(tmp_path, reference):
    run = tmp_path / "run"
    score = fid_of(run)

    def hook(G):
        if len(read_jsonl(run / "evals.jsonl")) == 2:  # the evaluation at step 8: stop there
            os.kill(os.getpid(), signal.SIGTERM)
        return score(G)

    assert train(RunSpec(**TINY), run, evaluate=hook, **KW).status == "interrupted"
    # as after SIGKILL: the checkpoint (step 6) is older than what was logged (up to step 8)
    (run / "checkpoint.prev.pt").replace(run / "checkpoint.pt")
    assert train(RunSpec(**TINY), run, evaluate=score, **KW).status == "ok"
    resumed, straight = scalars(run), scalars(reference)
    for tag in ("train/loss_d", "train/loss_g", "train/d_real", "eval/fid"):
        steps = [s for s, _ in resumed[tag]]
        assert steps == sorted(set(steps)) == [s for s, _ in straight[tag]], tag  # each once
    for tag in ("train/loss_d", "train/loss_g", "train/d_real"):
        assert resumed[tag] == straight[tag], tag  # a CPU resume is bit-identical


def test_without_tensorboard_a_run_trains_and_says_so_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(__import__("sys").modules, "torch.utils.tensorboard", None)
    monkeypatch.setattr(watch_module, "_told", False)
    monkeypatch.setattr(watch_module, "STATUS_EVERY", 0.0)
    spec = RunSpec(**{**TINY, "steps": 2})
    with pytest.warns(RuntimeWarning, match=r"landscape\[watch\]"):
        assert train(spec, tmp_path / "a", **KW).status == "ok"
    assert not list((tmp_path / "a").glob("events.out.tfevents.*"))
    assert watch_module._told  # a second run in this process is quiet
    status = capsys.readouterr().err
    assert f"run {spec.run_id}: step 2/2 (100%), loss_d" in status  # no bar: a status line
