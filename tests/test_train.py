"""The training loop: tiny runs, exact resume after SIGTERM and SIGKILL, divergence, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from landscape.train import RunSpec, train
from landscape.train.records import read_jsonl

TINY = dict(
    dataset="digits",
    architecture="sndcgan",
    width=1 / 16,
    batch_size=16,
    steps=12,
    eval_every=4,
    seed=3,
)


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    payload = torch.load(run / "checkpoint.pt", weights_only=False)
    return {f"{m}.{k}": v for m in ("G", "D") for k, v in payload[m].items()}


def losses(run: Path) -> list[tuple]:
    return [
        (r["step"], r["loss_d"], r["loss_g"], r["penalty"]) for r in read_jsonl(run / "train.jsonl")
    ]


def assert_same_run(a: Path, b: Path) -> None:
    assert losses(a) == losses(b)  # exact float equality, step by step
    wa, wb = final_weights(a), final_weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), f"{k} differs after resume"
    assert [e["step"] for e in read_jsonl(b / "evals.jsonl")] == [0, 4, 8, 12]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "run"
    result = train(RunSpec(**TINY), out, checkpoint_every=3, log_every=1, progress=False)
    assert result.status == "ok" and result.step == 12
    return out


def test_a_run_writes_config_logs_samples_and_status(reference):
    config = json.loads((reference / "config.json").read_text())
    assert config["run_id"] == RunSpec(**TINY).run_id and config["steps"] == 12
    assert [r["step"] for r in read_jsonl(reference / "train.jsonl")] == list(range(1, 13))
    assert sorted(p.name for p in (reference / "samples").iterdir()) == [
        f"step_{s:07d}.png" for s in (0, 4, 8, 12)
    ]
    status = json.loads((reference / "status.json").read_text())
    assert status["status"] == "ok" and status["step"] == 12 and status["wall_time"] > 0


def test_a_finished_run_is_not_trained_again(reference):
    before = (reference / "checkpoint.pt").stat().st_mtime_ns
    result = train(RunSpec(**TINY), reference, progress=False)
    assert result.status == "ok" and (reference / "checkpoint.pt").stat().st_mtime_ns == before


def test_resume_after_sigterm_is_bit_exact(tmp_path, reference):
    def hook(G):
        if len(read_jsonl(tmp_path / "run" / "evals.jsonl")) == 2:  # the evaluation at step 8
            os.kill(os.getpid(), signal.SIGTERM)
        return {}

    first = train(
        RunSpec(**TINY),
        tmp_path / "run",
        evaluate=hook,
        checkpoint_every=3,
        log_every=1,
        progress=False,
    )
    assert first.status == "interrupted" and first.step == 8
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["step"] == 8
    second = train(
        RunSpec(**TINY), tmp_path / "run", checkpoint_every=3, log_every=1, progress=False
    )
    assert second.status == "ok"
    assert_same_run(reference, tmp_path / "run")


def test_resume_after_sigkill_is_bit_exact(tmp_path, reference):
    run = tmp_path / "run"
    script = textwrap.dedent(f"""
        import os, signal
        from landscape.train import RunSpec, train
        from landscape.train.records import read_jsonl
        def hook(G):
            if len(read_jsonl({str(run / "evals.jsonl")!r})) == 2:
                os.kill(os.getpid(), signal.SIGKILL)  # no chance to save anything
            return {{}}
        train(RunSpec(**{TINY!r}), {str(run)!r}, evaluate=hook, checkpoint_every=3,
              log_every=1, progress=False)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert torch.load(run / "checkpoint.pt", weights_only=False)["step"] == 6
    assert json.loads((run / "status.json").read_text())["status"] == "running"
    result = train(RunSpec(**TINY), run, checkpoint_every=3, log_every=1, progress=False)
    assert result.status == "ok"
    assert_same_run(reference, run)


def test_divergence_is_a_result_with_its_step_and_curve(tmp_path, nan_loss):
    result = train(
        RunSpec(**{**TINY, "loss": nan_loss}), tmp_path / "run", log_every=1, progress=False
    )
    assert result.status == "diverged" and result.diverged_at == 6
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["status"] == "diverged" and status["diverged_at"] == 6 and status["step"] == 5
    losses = read_jsonl(tmp_path / "run" / "train.jsonl")
    assert [r["step"] for r in losses[:5]] == [1, 2, 3, 4, 5]
    assert all(np.isfinite(r["loss_d"]) for r in losses[:5])
    # a diverged run is finished: running it again does nothing
    assert train(RunSpec(**{**TINY, "loss": nan_loss}), tmp_path / "run").status == "diverged"


def write_folder(folder: Path, n: int, size: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(
            folder / f"{i}.png"
        )


@pytest.mark.parametrize("arch", ["dcgan", "sndcgan", "resnet_cifar", "resnet19"])
def test_a_tiny_run_of_each_architecture(tmp_path, arch):
    write_folder(tmp_path / "data" / "imgs", 12, 128 if arch == "resnet19" else 32)
    spec = RunSpec(
        dataset="image_folder",
        architecture=arch,
        width=1 / 32,
        batch_size=4,
        steps=4,
        eval_every=2,
        n_disc=2,
        penalty="gp",
        normalization="sn",
        data_options={"path": "imgs", "resolution": 128 if arch == "resnet19" else 32},
    )
    result = train(spec, tmp_path / "run", data_root=tmp_path / "data", progress=False)
    assert result.status == "ok" and result.step == 4
    losses = read_jsonl(tmp_path / "run" / "train.jsonl")
    assert losses[-1]["step"] == 4 and np.isfinite(losses[-1]["loss_d"])


@pytest.mark.parametrize(
    "changes, error, match",
    [
        ({"dataset": "cifar11"}, KeyError, "unknown data set 'cifar11'; choose from"),
        ({"lr": -1e-4}, ValueError, "invalid lr = -0.0001"),
        ({"loss": "hing"}, KeyError, "unknown loss 'hing'; choose from: hinge"),
        ({"n_disc": 0}, ValueError, "invalid n_disc"),
        ({"beta2": 1.5}, ValueError, "invalid beta2"),
    ],
)
def test_bad_specs_are_refused_before_anything_is_written(tmp_path, changes, error, match):
    with pytest.raises(error, match=match):
        train(RunSpec(**{**TINY, **changes}), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_bad_data_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="does not support resolution 32; supported: 128"):
        train(RunSpec(**{**TINY, "architecture": "resnet19"}), tmp_path / "a")
    with pytest.raises(FileNotFoundError, match="celeba_hq_128"):
        train(RunSpec(**{**TINY, "dataset": "celeba_hq_128"}), tmp_path / "b", data_root=tmp_path)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_folder_holding_another_run_is_never_overwritten(tmp_path, reference):
    with pytest.raises(ValueError, match="holds run"):
        train(RunSpec(**{**TINY, "seed": 99}), reference, progress=False)


def test_run_id_is_stable_and_ignores_labels():
    a = RunSpec(**TINY)
    assert a.run_id == RunSpec(**TINY).run_id
    assert a.run_id == RunSpec(**TINY, study="x", origin="grid:1").run_id
    assert a.run_id != RunSpec(**{**TINY, "seed": 4}).run_id
    assert RunSpec(**TINY, penalty="gp").penalty_weight == 10.0
