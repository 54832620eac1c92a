"""Running studies: parallel workers, exactly-once training, SIGKILL recovery, reruns,
retries, the GP search, and (where a server can be started) PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
import torch
import yaml

from landscape.execution import Worker, run_study
from landscape.execution.queue import Queue, default_storage
from landscape.study import load_study

TINY = {
    "name": "tiny",
    "dataset": "digits",
    "evaluation": {"samples": 50},
    "budget": {"steps": 6, "eval_every": 3, "batch_size": 8, "checkpoint_every": 2, "log_every": 1},
    "model": {"width": 0.03125, "z_dim": 8},
    "grid": {
        "loss": ["ns", "hinge"],
        "penalty": ["none"],
        "normalization": ["sn"],
        "architecture": ["sndcgan"],
    },
    "hyperparameters": [{"lr": 1e-3, "n_disc": 1}],
    "seeds": [0, 1],
}


def write_study(tmp_path: Path, data: dict, name: str = "tiny.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def trials(results: Path, study_name: str) -> list[optuna.trial.FrozenTrial]:
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(results / "optuna.journal"))
    )
    out = []
    for name in optuna.get_all_study_names(storage):
        if name == study_name or name.startswith(f"{study_name}:search:"):
            out += optuna.load_study(study_name=name, storage=storage).trials
    return [t for t in out if "void" not in t.user_attrs]


def raw_steps(run: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "train.jsonl").read_text().splitlines()]


CLI = [sys.executable, "-m", "landscape.cli"]


def cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, **kwargs)


def test_two_workers_train_every_run_exactly_once(tmp_path):
    path = write_study(tmp_path, TINY)
    proc = cli(
        "run", str(path), "--workers", "2", "--results", str(tmp_path / "results"), "--no-report"
    )
    assert proc.returncode == 0, proc.stderr
    results = tmp_path / "results" / "tiny"
    done = trials(results, "tiny")
    assert len(done) == 4 and all(t.state.name == "COMPLETE" for t in done)
    assert Counter(t.user_attrs["run_id"] for t in done).most_common(1)[0][1] == 1
    for t in done:
        run = results / "runs" / t.user_attrs["run_id"]
        assert raw_steps(run) == [1, 2, 3, 4, 5, 6]  # trained once, never restarted
        assert json.loads((run / "status.json").read_text())["status"] == "ok"
        evals = list(map(json.loads, (run / "evals.jsonl").open()))
        assert t.value == min(e["fid"] for e in evals)
        assert sorted(t.intermediate_values) == [0, 3, 6]
        best = min(evals, key=lambda e: e["fid"])  # every metric of it reaches the trial
        metrics = {k for k, v in best.items() if isinstance(v, float) and k not in ("time",)}
        assert {"fid", "is_mean", "kid_mean"} <= metrics
        assert all(t.user_attrs[k] == best[k] for k in metrics - {"eval_seconds"})
    assert (results / "study.yaml").read_bytes() == path.read_bytes()
    root = ["--results", str(tmp_path / "results")]
    status = cli("status", str(path), *root)
    assert "tiny: 4 done, 0 running, 0 failed, 0 left of 4" in status.stdout, status.stderr
    plan = cli("plan", str(path), *root)
    assert "grid: 4 runs (0 to train, 4 done)" in plan.stdout, plan.stderr
    report = cli("report", str(results))
    assert report.returncode == 0 and (results / "report.html").exists(), report.stderr


def test_rerun_trains_nothing_and_a_new_loss_trains_only_its_cells(tmp_path):
    path = write_study(tmp_path, TINY)
    first_version = path.read_bytes()
    run_study(load_study(path), workers=1, results_root=tmp_path, report=False)
    runs = tmp_path / "tiny" / "runs"
    before = {
        p.name: (p / "checkpoint.pt").stat().st_mtime_ns
        for p in runs.iterdir()
        if p.name != ".locks"
    }
    counts = run_study(load_study(path), workers=1, results_root=tmp_path, report=False)
    assert counts == {"done": 4}
    after = {
        p.name: (p / "checkpoint.pt").stat().st_mtime_ns
        for p in runs.iterdir()
        if p.name != ".locks"
    }
    assert after == before
    bigger = {**TINY, "grid": {**TINY["grid"], "loss": ["ns", "hinge", "wgan"]}}
    run_study(
        load_study(write_study(tmp_path, bigger)), workers=1, results_root=tmp_path, report=False
    )
    new = {p.name for p in runs.iterdir()} - set(before) - {".locks"}
    assert len(new) == 2  # the wgan cell's two seeds, nothing else
    assert all(json.loads((runs / n / "config.json").read_text())["loss"] == "wgan" for n in new)
    assert {n: after[n] for n in before} == before
    # the changed study file is kept beside the first, not written over it
    assert (tmp_path / "tiny" / "study.yaml").read_bytes() == first_version
    assert len(list((tmp_path / "tiny").glob("study.*.yaml"))) == 1


def test_a_worker_killed_with_sigkill_loses_nothing(tmp_path):
    data = {**TINY, "budget": {**TINY["budget"], "steps": 40, "eval_every": 20}}
    path = write_study(tmp_path, data)
    study = load_study(path)
    results = tmp_path / "tiny"
    from landscape.study.plan import grid_runs

    Queue(study, default_storage(results), results).add_grid(grid_runs(study))
    worker = subprocess.Popen(
        [*CLI, "worker", str(path), "--results", str(tmp_path)],
        stderr=subprocess.DEVNULL,
    )
    victim = None
    deadline = time.monotonic() + 120
    while victim is None and time.monotonic() < deadline:
        for ckpt in (results / "runs").glob("*/checkpoint.pt"):
            status = json.loads((ckpt.parent / "status.json").read_text())
            if status["status"] == "running" and ckpt.stat().st_size:
                steps = raw_steps(ckpt.parent)
                if steps and 4 < steps[-1] < 30:
                    victim = ckpt.parent
        time.sleep(0.05)
    assert victim is not None, "no run reached a checkpoint in time"
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    killed_at = raw_steps(victim)[-1]
    resumed_from = torch.load(victim / "checkpoint.pt", weights_only=False)["step"]
    counts = run_study(study, workers=1, results_root=tmp_path, report=False)
    assert counts == {"done": 4}
    done = trials(results, "tiny")
    assert sorted(Counter(t.user_attrs["run_id"] for t in done).values()) == [1, 1, 1, 1]
    steps = raw_steps(victim)
    assert steps.count(1) == 1, "the interrupted run restarted from scratch"
    assert set(steps) == set(range(1, 41)) and steps[-1] == 40
    # the steps logged after the checkpoint, before the kill, were trained again on resume
    assert steps.count(resumed_from + 1) == (2 if killed_at > resumed_from else 1)


def test_a_run_that_raises_is_retried_then_recorded_as_failed(tmp_path):
    (tmp_path / "boom.py").write_text(
        "from landscape import LOSSES\n"
        "@LOSSES.register('boom_loss')\n"
        "def boom(real, fake):\n    raise RuntimeError('boom at the first step')\n"
    )
    data = {
        **TINY,
        "plugins": ["boom.py"],
        "grid": {**TINY["grid"], "loss": ["ns", "boom_loss"]},
        "seeds": [0],
    }
    try:
        study = load_study(write_study(tmp_path, data))
        results = tmp_path / "tiny"
        from landscape.study.plan import grid_runs

        Queue(study, default_storage(results), results).add_grid(grid_runs(study))
        taken = Worker(study, results, default_storage(results), max_retries=2).run()
        assert taken == 1 + 3  # the good run, and the bad one three times
        final = {t.user_attrs["loss"]: t for t in trials(results, "tiny")}
        assert final["ns"].state.name == "COMPLETE"
        assert final["boom_loss"].state.name == "FAIL"
        assert "boom at the first step" in final["boom_loss"].user_attrs["error"]
        run = results / "runs" / final["boom_loss"].user_attrs["run_id"]
        status = json.loads((run / "status.json").read_text())
        assert status["status"] == "failed" and "boom" in status["error"]
    finally:
        from landscape import LOSSES

        LOSSES._entries.pop("boom_loss", None)


def test_gp_search_runs_its_trials_inside_the_declared_ranges(tmp_path):
    data = {
        **TINY,
        "grid": {**TINY["grid"], "loss": ["ns"], "penalty": ["gp"]},
        "seeds": [0],
        "search": {
            "sampler": "gp",
            "trials": 4,
            "n_disc": [1],
            "ranges": {
                "lr": [1e-4, 3e-3, "log"],
                "beta1": [0.1, 0.6],
                "penalty_weight": {"gp": [0.5, 5, "log"]},
            },
        },
    }
    study = load_study(write_study(tmp_path, data))
    counts = run_study(study, workers=1, results_root=tmp_path, report=False)
    assert counts == {"done": 1 + 4}
    searched = [t for t in trials(tmp_path / "tiny", "tiny") if "search" in t.user_attrs["origin"]]
    assert len(searched) == 4 and all(t.state.name == "COMPLETE" for t in searched)
    for t in searched:
        assert 1e-4 <= t.params["lr"] <= 3e-3 and 0.1 <= t.params["beta1"] <= 0.6
        assert 0.5 <= t.params["penalty_weight"] <= 5
        spec = json.loads(t.user_attrs["spec"])
        assert spec["lr"] == t.params["lr"] and spec["n_disc"] == 1
    assert len({t.params["lr"] for t in searched}) == 4


def test_a_worker_missing_data_or_weights_gives_the_run_back_and_says_why(tmp_path):
    data = {**TINY, "dataset": "cifar10", "data_root": str(tmp_path / "no-data")}
    path = write_study(tmp_path, data)
    proc = cli("run", str(path), "--workers", "1", "--results", str(tmp_path), "--no-report")
    assert proc.returncode == 1
    assert "cannot train here" in proc.stderr
    # the first thing missing is named: Inception's weights here, else the data set
    assert "weights-inception" in proc.stderr or "cifar-10-batches-py" in proc.stderr
    queue = Queue(load_study(path), default_storage(tmp_path / "tiny"), tmp_path / "tiny")
    assert queue.counts() == Counter({"queued": 4})  # nothing lost, nothing marked failed
    assert not (tmp_path / "tiny" / "runs").exists() or not any(
        p for p in (tmp_path / "tiny" / "runs").iterdir() if not p.name.startswith(".")
    )


def test_workers_are_pinned_round_robin_to_the_visible_gpus(monkeypatch):
    from landscape.execution.runner import worker_env

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    envs = [worker_env(i, 4) for i in range(4)]  # 2 runs per GPU
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["2", "5", "2", "5"]
    assert [e["LANDSCAPE_WORKER_INDEX"] for e in envs] == ["0", "1", "2", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU: the cores are shared
    monkeypatch.delenv("LANDSCAPE_THREADS", raising=False)
    env = worker_env(0, 2)
    assert env["CUDA_VISIBLE_DEVICES"] == "" and int(env["LANDSCAPE_THREADS"]) == max(
        1, (os.cpu_count() or 1) // 2
    )


def test_a_fresh_claim_is_not_taken_for_a_lost_one(tmp_path):
    study = load_study(write_study(tmp_path, TINY))
    results = tmp_path / "tiny"
    from landscape.study.plan import grid_runs

    queue = Queue(study, default_storage(results), results)
    queue.add_grid(grid_runs(study)[:1])
    (waiting,) = queue.grid.get_trials(states=(optuna.trial.TrialState.WAITING,))
    # the moment between taking a claim and stamping it with its worker and heartbeat
    trial_id = queue.trial_id(queue.grid, waiting.number)
    assert queue.storage.set_trial_state_values(trial_id, optuna.trial.TrialState.RUNNING)
    assert queue.reclaim_stale() == 0
    assert queue.counts() == Counter({"running": 1})


def test_a_run_queued_twice_is_trained_and_recorded_once(tmp_path):
    study = load_study(write_study(tmp_path, {**TINY, "seeds": [0]}))
    results = tmp_path / "tiny"
    from landscape.execution.queue import waiting_trial
    from landscape.study.plan import grid_runs

    queue = Queue(study, default_storage(results), results)
    run = grid_runs(study)[0]
    queue.grid.add_trial(waiting_trial(run, 1))
    queue.grid.add_trial(waiting_trial(run, 1))  # e.g. re-queued by a worker that lost its claim
    Worker(study, results, default_storage(results)).run()
    done = [t for t in trials(results, "tiny") if t.user_attrs["run_id"] == run.run_id]
    assert [t.state.name for t in done] == ["COMPLETE"]
    assert raw_steps(results / "runs" / run.run_id) == [1, 2, 3, 4, 5, 6]


def test_sigterm_to_the_runner_stops_its_workers_and_a_rerun_finishes(tmp_path):
    data = {
        **TINY,
        "budget": {
            **TINY["budget"],
            "steps": 400,
            "eval_every": 200,
            "checkpoint_every": 50,
            "log_every": 10,
        },
    }
    path = write_study(tmp_path, data)
    runner = subprocess.Popen(
        [
            *CLI,
            "run",
            str(path),
            "--workers",
            "2",
            "--results",
            str(tmp_path),
            "--no-report",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    runs = tmp_path / "tiny" / "runs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(
        len(raw_steps(p.parent)) >= 5 for p in runs.glob("*/train.jsonl")
    ):
        time.sleep(0.1)
    runner.send_signal(signal.SIGTERM)
    _, err = runner.communicate(timeout=120)
    assert runner.returncode == 130 and "run the same command again" in err
    time.sleep(0.5)
    workers = subprocess.run(
        ["pgrep", "-f", f"landscape.cli worker {path}"], capture_output=True, text=True
    )
    assert workers.stdout == "", "workers outlived their runner"
    statuses = [json.loads(p.read_text())["status"] for p in runs.glob("*/status.json")]
    assert "interrupted" in statuses and "running" not in statuses
    counts = run_study(load_study(path), workers=2, results_root=tmp_path, report=False)
    assert counts == {"done": 4}
    assert all(raw_steps(p.parent).count(10) == 1 for p in runs.glob("*/train.jsonl"))
