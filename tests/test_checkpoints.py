"""Checkpoints survive a torn write (issue 11.5): the previous one is kept until the new one
is complete, an unreadable latest falls back to it (or to step 0, saying so), and a folder
that holds another run is refused without touching a byte of it."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest
import torch
from torch import nn

from landscape.train import RunSpec, train
from landscape.train.checkpoint import previous_path, resume, save_checkpoint
from landscape.train.records import ForeignRunFolder, read_jsonl

TINY = dict(
    dataset="digits", architecture="sndcgan", width=1 / 16, batch_size=16, steps=12,
    eval_every=4, seed=3,
)  # fmt: skip
KW = dict(checkpoint_every=3, log_every=1, progress=False)


def weights(run: Path) -> dict[str, torch.Tensor]:
    payload = torch.load(run / "checkpoint.pt", weights_only=False)
    return {f"{m}.{k}": v for m in ("G", "D") for k, v in payload[m].items()}


def losses(run: Path) -> list[tuple]:
    rows = read_jsonl(run / "train.jsonl")
    return [(r["step"], r["loss_d"], r["loss_g"]) for r in rows]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "run"
    assert train(RunSpec(**TINY), out, **KW).status == "ok"
    return out


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory) -> Path:
    """A run stopped by SIGTERM at step 8: checkpoint.pt at 8, checkpoint.prev.pt at 6."""
    run = tmp_path_factory.mktemp("interrupted") / "run"

    def hook(G):
        if len(read_jsonl(run / "evals.jsonl")) == 2:  # the evaluation at step 8
            os.kill(os.getpid(), signal.SIGTERM)
        return {}

    assert train(RunSpec(**TINY), run, evaluate=hook, **KW).status == "interrupted"
    return run


def load_step(path: Path) -> int:
    return torch.load(path, weights_only=False)["step"]


def test_the_previous_checkpoint_is_kept_beside_the_latest(interrupted):
    assert load_step(interrupted / "checkpoint.pt") == 8
    assert load_step(interrupted / "checkpoint.prev.pt") == 6


def test_a_failed_write_leaves_both_checkpoints_as_they_were(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    net = nn.Linear(2, 1)
    for step in (1, 2):
        save_checkpoint(path, step=step, modules={"net": net}, extra={})
    before = path.read_bytes(), previous_path(path).read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(path, step=3, modules={"net": net}, extra={})
    assert (path.read_bytes(), previous_path(path).read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.prev.pt", "checkpoint.pt"]


@pytest.mark.parametrize("damage", ["cut in half", "empty", "garbage"])
def test_an_unreadable_latest_checkpoint_resumes_from_the_previous_one(
    tmp_path, reference, interrupted, damage
):
    run = tmp_path / "run"
    shutil.copytree(interrupted, run)
    latest = run / "checkpoint.pt"
    data = latest.read_bytes()
    cut = {"cut in half": data[: len(data) // 2], "empty": b"", "garbage": b"x" * 99}
    latest.write_bytes(cut[damage])
    with pytest.warns(RuntimeWarning, match="resumed from checkpoint.prev.pt at step 6"):
        result = train(RunSpec(**TINY), run, **KW)
    assert result.status == "ok" and result.step == 12
    status = json.loads((run / "status.json").read_text())
    assert status["note"].startswith("resumed from checkpoint.prev.pt at step 6: checkpoint.pt")
    assert losses(run) == losses(reference)  # steps 7-12 were trained again, bit-exact
    ref, got = weights(reference), weights(run)
    assert all(torch.equal(ref[k], got[k]) for k in ref)


def test_with_no_readable_checkpoint_the_run_restarts_from_step_0_and_says_so(
    tmp_path, reference, interrupted
):
    run = tmp_path / "run"
    shutil.copytree(interrupted, run)
    (run / "checkpoint.pt").write_bytes(b"")
    prev = run / "checkpoint.prev.pt"
    prev.write_bytes(prev.read_bytes()[:1000])
    with pytest.warns(RuntimeWarning, match="restarted from step 0: checkpoint.pt is empty"):
        result = train(RunSpec(**TINY), run, **KW)
    assert result.status == "ok"
    note = json.loads((run / "status.json").read_text())["note"]
    assert "checkpoint.prev.pt cannot be read" in note
    assert losses(run) == losses(reference)
    assert [e["step"] for e in read_jsonl(run / "evals.jsonl")] == [0, 4, 8, 12]


def test_resume_touches_no_module_when_nothing_is_readable(tmp_path):
    net = nn.Linear(3, 1)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    (tmp_path / "checkpoint.pt").write_bytes(b"PK\x03\x04 not really a zip")
    got = resume(tmp_path / "checkpoint.pt", {"net": net}, torch.device("cpu"))
    assert got.payload is None and got.note.startswith("restarted from step 0: checkpoint.pt")
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    fresh = resume(tmp_path / "nothing.pt", {"net": net}, torch.device("cpu"))
    assert (fresh.payload, fresh.note) == (None, None)  # a new run says nothing


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ("another seed", "holds run .*, not .*; it is left as it is"),
        ("same id, other steps", "holds run .*, not .*; it is left as it is"),
        ("not json", "cannot be read as a run's config"),
        ("unknown key", "unknown run spec keys: colour"),
    ],
)
def test_a_folder_holding_another_run_is_refused_without_touching_it(tmp_path, config, match):
    folder = tmp_path / "run"
    folder.mkdir()
    mine, other = RunSpec(**TINY), RunSpec(**{**TINY, "seed": 99})
    content = {
        "another seed": json.dumps(other.to_dict()),
        "same id, other steps": json.dumps({**mine.to_dict(), "steps": 99}),
        "not json": '{"run_id": ',
        "unknown key": json.dumps({**mine.to_dict(), "colour": "red"}),
    }[config]
    (folder / "config.json").write_text(content)
    (folder / "status.json").write_text('{"status": "running", "step": 5}')
    (folder / "checkpoint.pt").write_bytes(b"someone else's")
    before = snapshot(folder)
    with pytest.raises(ForeignRunFolder, match=match):
        train(mine, folder, **KW)
    assert snapshot(folder) == before
    assert issubclass(ForeignRunFolder, ValueError)  # the CLI reports it as an error
