"""A worker's signals (landscape/execution/signals.py): SIGTERM and SIGINT checkpoint the run at
the current step, give it back at once and exit; SIGUSR2 (Slurm's time-limit warning) does the
same and then requeues the worker's own Slurm job. A run stopped so ends bit-identical to one
trained without a stop. Slurm itself is replaced by a fake ``scontrol`` here; test_slurm.py
runs the real one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from test_study_run import CLI, TINY, raw_steps, write_study

from landscape.execution.queue import QUEUED, Queue, default_storage
from landscape.execution.signals import requeue_slurm_job, slurm_job, stop_requests
from landscape.records import RunFiles, Status
from landscape.study import load_study
from landscape.study.plan import grid_runs

STEPS = 60
SLOW_LOSS = '''
import os
import time

from landscape import LOSSES

PAUSE = float(os.environ.get("SLOW_LOSS_SECONDS", "0.01"))  # per call: two calls a step


@LOSSES.register("ns_slowly")
def ns_slowly(real, fake):
    """ns, a few milliseconds slower: a run lasts long enough to be stopped half way on a fast
    machine too. Its results are ns's, bit for bit."""
    time.sleep(PAUSE)
    return LOSSES["ns"](real, fake)
'''
# One run; no periodic checkpoint before the end, so a resume can only start from the
# checkpoint the stop wrote (or from step 0, which the test would see as steps trained twice).
ONE_RUN = {
    **TINY,
    "plugins": ["slow_loss.py"],
    "budget": {**TINY["budget"], "steps": STEPS, "eval_every": 30, "checkpoint_every": 10_000},
    "grid": {**TINY["grid"], "loss": ["ns_slowly"]},
    "seeds": [0],
}


def write_slow_study(folder: Path, data: dict) -> Path:
    (folder / "slow_loss.py").write_text(SLOW_LOSS)
    return write_study(folder, data)


def test_the_signal_table():
    assert signal.SIGUSR1 not in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR2)
    with stop_requests() as stop:
        os.kill(os.getpid(), signal.SIGUSR2)
        assert stop.event.wait(5) and stop.signum == signal.SIGUSR2 and stop.requeue
        os.kill(os.getpid(), signal.SIGTERM)  # the requeue's own SIGTERM: ignored, not raised
        time.sleep(0.05)
        assert stop.signum == signal.SIGUSR2 and stop.describe() == "SIGUSR2"
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handlers put back
    with stop_requests() as stop, pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.event.wait(5) and not stop.requeue
        os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C stops at once
        time.sleep(1)


def test_an_array_task_is_requeued_by_its_own_id_not_the_arrays():
    # `scontrol requeue 5` where 5 is the array's id requeues every task of the array
    task_1 = {"SLURM_JOB_ID": "5", "SLURM_ARRAY_JOB_ID": "5", "SLURM_ARRAY_TASK_ID": "1"}
    task_0 = {"SLURM_JOB_ID": "6", "SLURM_ARRAY_JOB_ID": "5", "SLURM_ARRAY_TASK_ID": "0"}
    assert slurm_job(task_1) == "5_1" and slurm_job(task_0) == "5_0"
    assert slurm_job({"SLURM_JOB_ID": "9"}) == "9"
    assert slurm_job({}) is None
    assert "nothing to requeue" in requeue_slurm_job({})


def fake_scontrol(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose ``scontrol`` writes its arguments to a file, in an array task."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "scontrol.calls"
    bin_dir.mkdir()
    (bin_dir / "scontrol").write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    (bin_dir / "scontrol").chmod(0o755)
    env = dict(
        os.environ,
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        SLURM_JOB_ID="12",
        SLURM_ARRAY_JOB_ID="11",
        SLURM_ARRAY_TASK_ID="1",
    )
    return env, calls


def worker(path: Path, root: Path, env: dict[str, str]) -> subprocess.Popen:
    command = [*CLI, "worker", str(path), "--results", str(root)]
    return subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)


def queue_only(path: Path, root: Path) -> None:
    """`landscape run --workers 0`: in a process of its own, so that loading the study's plugin
    registers nothing in this one."""
    done = subprocess.run(
        [*CLI, "run", str(path), "--workers", "0", "--results", str(root)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """The run trained in one go, by a worker: the reference a stopped run must equal."""
    root = tmp_path_factory.mktemp("uninterrupted")
    path = write_slow_study(root, ONE_RUN)
    queue_only(path, root)
    proc = worker(path, root, dict(os.environ))
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    (folder,) = [p for p in (root / "tiny" / "runs").iterdir() if not p.name.startswith(".")]
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR2], ids=["SIGTERM", "SIGUSR2"])
def test_a_stopped_worker_checkpoints_gives_the_run_back_and_the_run_ends_bit_identical(
    tmp_path, uninterrupted, signum, restore_registries
):
    path = write_slow_study(tmp_path, ONE_RUN)
    queue_only(path, tmp_path)
    study = load_study(path)  # registers the plugin's loss here: restore_registries undoes it
    results = tmp_path / "tiny"
    queue = Queue(study, default_storage(results), results)
    (run,) = grid_runs(study)
    folder = results / "runs" / run.run_id
    env, calls = fake_scontrol(tmp_path)
    proc = worker(path, tmp_path, env)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (
        (folder / RunFiles.TRAIN_LOG).exists() and len(raw_steps(folder)) >= 10
    ):
        time.sleep(0.05)
    os.kill(proc.pid, signum)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert f"stopped on {signal.Signals(signum).name}" in err
    status = json.loads((folder / RunFiles.STATUS).read_text())
    stopped_at = status["step"]
    assert status["status"] == Status.INTERRUPTED and 10 <= stopped_at < STEPS
    assert torch.load(folder / RunFiles.CHECKPOINT, weights_only=False)["step"] == stopped_at
    assert raw_steps(folder) == list(range(1, stopped_at + 1))
    # the claim is back in the queue at once: a waiting trial, the stopped one void
    assert queue.counts() == {QUEUED: 1}
    if signum == signal.SIGUSR2:
        assert calls.read_text() == "requeue 11_1\n"  # the task, not the whole array
        assert "requeue" in err
    else:
        assert not calls.exists()

    finish = worker(path, tmp_path, dict(os.environ))
    _, err = finish.communicate(timeout=600)
    assert finish.returncode == 0, err
    assert raw_steps(folder) == list(range(1, STEPS + 1))  # resumed at its stop, nothing twice
    assert json.loads((folder / RunFiles.STATUS).read_text())["status"] == Status.OK
    ours = torch.load(folder / RunFiles.CHECKPOINT, weights_only=False)
    theirs = torch.load(uninterrupted / RunFiles.CHECKPOINT, weights_only=False)
    for net in ("G", "D"):
        assert ours[net].keys() == theirs[net].keys()
        assert all(torch.equal(ours[net][k], theirs[net][k]) for k in ours[net]), net
    fids = [
        [e["fid"] for e in map(json.loads, (f / RunFiles.EVAL_LOG).open())]
        for f in (folder, uninterrupted)
    ]
    assert fids[0] == fids[1] and len(fids[0]) == 3  # steps 0, 30 and 60


def test_the_loop_stops_on_its_callers_event_and_leaves_the_signals_to_the_caller(tmp_path):
    import threading

    from test_train import TINY as ONE_SPEC

    from landscape.train import RunSpec, train

    stop, handlers = threading.Event(), []

    def evaluate(G):
        handlers.append(signal.getsignal(signal.SIGTERM))
        if len(handlers) == 2:  # the evaluation at step 4
            stop.set()
        return {}

    spec = RunSpec(**ONE_SPEC)
    result = train(spec, tmp_path, evaluate=evaluate, stop=stop, log_every=1, progress=False)
    assert result.status == Status.INTERRUPTED and result.step == spec.eval_every
    assert torch.load(tmp_path / RunFiles.CHECKPOINT, weights_only=False)["step"] == 4
    assert handlers == [signal.SIG_DFL, signal.SIG_DFL]  # the loop installed none of its own
