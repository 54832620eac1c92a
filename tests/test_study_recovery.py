"""When things go wrong during a study: failed runs are named and can be retried, a dead worker
is replaced, a damaged queue is rebuilt from the run folders, and random SIGKILLs lose nothing
and train nothing twice."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from test_study_run import CLI, TINY, cli, raw_steps, trials, write_study

from landscape.records import JOURNAL, RunFiles, Status
from landscape.study import load_study
from landscape.study.plan import grid_runs

ONE = {**TINY, "grid": {**TINY["grid"], "loss": ["ns"]}, "seeds": [0]}


FLAKY_LOSS = """
from pathlib import Path

from landscape import LOSSES


@LOSSES.register("needs_fix")
def needs_fix(real, fake):
    if Path("broken").exists():  # the cause a user fixes before retrying
        raise RuntimeError("broken: remove the file 'broken' to fix me")
    return LOSSES["ns"](real, fake)
"""


@pytest.mark.slow
def test_a_failed_run_says_why_stays_failed_and_retry_failed_trains_it_once_fixed(tmp_path):
    (tmp_path / "needs_fix.py").write_text(FLAKY_LOSS)
    data = {**ONE, "plugins": ["needs_fix.py"], "grid": {**ONE["grid"], "loss": ["needs_fix"]}}
    path = write_study(tmp_path, data)
    (run,) = grid_runs(load_study(path))
    folder = tmp_path / "results" / "tiny" / "runs" / run.run_id
    (tmp_path / "broken").touch()
    first = cli("run", path.name, "--workers", "1", "--no-report", cwd=tmp_path)
    assert first.returncode == 1
    # on the console when it fails, and in the final summary
    assert f"run {run.run_id} (grid:" in first.stderr
    assert "FAILED after 3 attempt(s)" in first.stderr and "remove the file" in first.stderr
    assert f"failed: {run.run_id} (grid:" in first.stdout and "--retry-failed" in first.stdout
    status = cli("status", path.name, cwd=tmp_path)
    assert "0 done, 0 running, 1 failed, 0 left of 1" in status.stdout
    failures = next(line for line in status.stdout.splitlines() if "failures:" in line)
    assert "1 run(s) failed" in failures and f"[{run.run_id}]" in failures
    assert "remove the file" in failures  # the reason, grouped (execution/status.py)
    plan = cli("plan", path.name, "--list", cwd=tmp_path)  # failed is not "to train"
    assert (
        "grid: 1 runs (0 to train, 0 done, 1 failed: `landscape run --retry-failed`" in plan.stdout
    )
    assert f"FAIL {run.run_id}" in plan.stdout
    assert json.loads((folder / RunFiles.STATUS).read_text())["status"] == Status.FAILED
    (tmp_path / "broken").unlink()
    again = cli("run", path.name, "--workers", "1", "--no-report", cwd=tmp_path)
    assert "0 done, 0 running, 1 failed" in again.stdout  # failed stays failed on a rerun
    retried = cli("run", path.name, "--workers", "1", "--retry-failed", "--no-report", cwd=tmp_path)
    assert retried.returncode == 0, retried.stderr
    assert "1 failed run(s) queued again" in retried.stdout
    assert "finished: 1 done, 0 running, 0 failed, 0 left of 1" in retried.stdout
    assert json.loads((folder / RunFiles.STATUS).read_text())["status"] == Status.OK
    assert raw_steps(folder) == [1, 2, 3, 4, 5, 6]


@pytest.mark.slow
def test_a_corrupt_checkpoint_restarts_its_run_from_step_0_and_says_so(tmp_path):
    path = write_study(tmp_path, ONE)
    (run,) = grid_runs(load_study(path))
    folder = tmp_path / "results" / "tiny" / "runs" / run.run_id
    folder.mkdir(parents=True)
    (folder / RunFiles.CHECKPOINT).write_bytes(b"not a checkpoint")
    done = cli("run", path.name, "--workers", "1", "--no-report", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "cannot be read" in done.stderr  # the worker says why it started over
    status = json.loads((folder / RunFiles.STATUS).read_text())
    assert status["status"] == Status.OK and "step 0" in status["note"]
    assert raw_steps(folder) == [1, 2, 3, 4, 5, 6]


def _descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (from /proc): a runner's workers are its children."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


@pytest.mark.slow
def test_the_runner_replaces_a_worker_that_dies(tmp_path):
    data = {**TINY, "budget": {**TINY["budget"], "steps": 60, "eval_every": 30}}
    path = write_study(tmp_path, data)
    runner = subprocess.Popen(
        [*CLI, "run", path.name, "--workers", "2", "--no-report"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    runs = tmp_path / "results" / "tiny" / "runs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(runs.glob("*/train.jsonl")):
        time.sleep(0.1)
    workers = _descendants(runner.pid)
    assert len(workers) == 2, workers
    os.kill(workers[0], signal.SIGKILL)
    out, err = runner.communicate(timeout=300)
    assert runner.returncode == 0, err
    assert f"worker 0 (pid {workers[0]}) killed by SIGKILL" in err or (
        f"worker 1 (pid {workers[0]}) killed by SIGKILL" in err
    )
    assert "in its place (1 of 3)" in err
    assert "finished: 4 done, 0 running, 0 failed, 0 left of 4" in out
    done = trials(tmp_path / "results" / "tiny", "tiny")
    assert sorted(Counter(t.user_attrs["run_id"] for t in done).values()) == [1, 1, 1, 1]


def test_a_worker_that_keeps_dying_is_replaced_a_bounded_number_of_times(
    tmp_path, monkeypatch, capsys
):
    import sys

    from landscape.execution import runner

    monkeypatch.setattr(
        runner,
        "worker_command",
        lambda *a: [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), 9)"],
    )
    study = load_study(write_study(tmp_path, TINY))
    pool = runner.Pool(study, "journal:unused", tmp_path, 1)
    for _ in range(200):
        pool.check(runs_left=True)
        if not pool.alive() and pool.ended:
            break
        time.sleep(0.05)
    assert pool.replaced == [runner.MAX_REPLACEMENTS] and pool.ended == [-9]
    err = capsys.readouterr().err
    assert err.count("killed by SIGKILL; its run goes back") == runner.MAX_REPLACEMENTS
    assert "replaced 3 times already, so not again" in err
    # a worker that ends with nothing left to do, or cannot train here, is not replaced
    quiet = runner.Pool(study, "journal:unused", tmp_path, 1)
    quiet.procs[0].wait()
    quiet.check(runs_left=False)
    assert quiet.replaced == [0]


@pytest.mark.slow
def test_rebuild_queue_records_finished_runs_without_training_them(tmp_path):
    data = {
        **ONE,
        "search": {"sampler": "random", "trials": 1, "n_disc": [1], "ranges": {"lr": [1e-4, 1e-3]}},
    }
    path = write_study(tmp_path, data)
    assert cli("run", path.name, "--workers", "1", "--no-report", cwd=tmp_path).returncode == 0
    results = tmp_path / "results" / "tiny"
    before = {p.parent.name: p.read_bytes() for p in results.glob("runs/*/train.jsonl")}
    assert len(before) == 2
    (results / JOURNAL).write_bytes(b"\x00\x01 garbage\n" + (results / JOURNAL).read_bytes())
    broken = cli("status", path.name, cwd=tmp_path)
    assert broken.returncode == 2 and "--rebuild-queue" in broken.stderr
    rebuild = ("--workers", "1", "--rebuild-queue", "--no-report")
    rebuilt = cli("run", path.name, *rebuild, cwd=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "1 search run(s) found" in rebuilt.stdout
    assert "finished: 2 done, 0 running, 0 failed, 0 left of 2" in rebuilt.stdout
    after = {p.parent.name: p.read_bytes() for p in results.glob("runs/*/train.jsonl")}
    assert after == before  # recorded from their folders, not trained again
    done = trials(results, "tiny")
    assert sorted(t.user_attrs["run_id"] for t in done) == sorted(before)


@pytest.mark.slow
def test_random_sigkills_lose_nothing_and_train_nothing_twice(tmp_path):
    """Kill the runner and its workers at random moments until the study completes; the
    default relative results folder, as a user would run it. A kill waits for new training
    progress (a new line in some train.jsonl) and then a random moment, so it lands mid-study
    on a fast machine as on a slow one."""
    data = {**TINY, "budget": {**TINY["budget"], "steps": 12, "eval_every": 6}}
    path = write_study(tmp_path, data)
    runs = tmp_path / "results" / "tiny" / "runs"
    rng = random.Random(0)
    kills = 0

    def progress() -> int:
        return sum(log.read_bytes().count(b"\n") for log in runs.glob("*/train.jsonl"))

    for attempt in range(6):
        seen = progress()
        runner = subprocess.Popen(
            [*CLI, "run", path.name, "--workers", "2", "--no-report"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        if attempt < 5:  # five kills at random moments after new progress, then it may finish
            deadline = time.monotonic() + 300
            while runner.poll() is None and progress() <= seen and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 1.5))
        if runner.poll() is None and attempt < 5:
            for pid in [runner.pid, *_descendants(runner.pid)]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            runner.communicate()
            kills += 1
            continue
        out, _ = runner.communicate(timeout=600)
        if runner.returncode == 0:
            break
    else:
        pytest.fail("the study did not complete")
    assert "finished: 4 done, 0 running, 0 failed, 0 left of 4" in out
    assert kills >= 1, "nothing was killed: the test proved nothing"
    results = tmp_path / "results" / "tiny"
    done = trials(results, "tiny")
    assert sorted(Counter(t.user_attrs["run_id"] for t in done).values()) == [1, 1, 1, 1]
    checkpoint_every = data["budget"]["checkpoint_every"]
    for run in (results / "runs").glob("*/train.jsonl"):
        steps = raw_steps(run.parent)
        assert steps[-1] == 12 and set(steps) == set(range(1, 13))
        # one trainer at a time: every restart starts right after a checkpoint (or at 1)
        restarts = [(a, b) for a, b in zip(steps[:-1], steps[1:], strict=True) if b != a + 1]
        assert all((b - 1) % checkpoint_every == 0 and b <= a for a, b in restarts), steps
        assert len(restarts) <= kills


def test_a_run_whose_data_options_do_not_load_is_recorded_failed_not_left_running(tmp_path):
    """Validation refuses unknown data options; a run queued another way (an older queue, a
    hand-made spec) must still end as failed with its reason, never stay running."""
    from landscape.execution import Worker
    from landscape.execution.queue import Queue, default_storage

    study = load_study(write_study(tmp_path, ONE))
    results = tmp_path / "tiny"
    (good,) = grid_runs(study)[:1]
    bad = good.with_(data_options={"resize": 64})
    Queue(study, default_storage(results), results).add_grid([bad])
    Worker(study, results, default_storage(results), max_retries=0).run()
    (trial,) = trials(results, "tiny")
    assert trial.state.name == "FAIL" and "resize" in trial.user_attrs["error"]


def test_a_folder_holding_another_run_is_failed_at_once_and_left_untouched(tmp_path):
    from landscape.execution import Worker
    from landscape.execution.queue import Queue, default_storage

    study = load_study(write_study(tmp_path, ONE))
    results = tmp_path / "tiny"
    run = grid_runs(study)[0]
    folder = results / "runs" / run.run_id
    folder.mkdir(parents=True)
    foreign = {"run_id": "0123456789ab", "dataset": "digits", "architecture": "sndcgan"}
    (folder / RunFiles.CONFIG).write_text(json.dumps(foreign))
    (folder / RunFiles.STATUS).write_text('{"status": "ok"}')
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
    Queue(study, default_storage(results), results).add_grid([run])
    taken = Worker(study, results, default_storage(results), max_retries=2).run()
    assert taken == 1  # no retries: every attempt would be refused alike
    (trial,) = trials(results, "tiny")
    assert trial.state.name == "FAIL" and "holds run 0123456789ab" in trial.user_attrs["error"]
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()} == before


def test_a_duplicate_claimed_while_the_result_is_written_is_discarded_not_recorded(tmp_path):
    """Found by the random-kill test: a worker let go of the run's lock before writing its
    result, so a duplicate trial claimed in that moment found the lock free and no result, and
    the run was recorded twice. Here the duplicate is claimed exactly then."""
    from landscape.execution import Worker
    from landscape.execution.queue import default_storage
    from landscape.execution.worker import DUPLICATE

    study = load_study(write_study(tmp_path, ONE))
    results = tmp_path / "tiny"
    first, second = (Worker(study, results, default_storage(results)) for _ in range(2))
    first.queue.add_grid(grid_runs(study))
    claim = first.queue.claim()
    first.queue.requeue(claim, 1)  # a duplicate, as a kill between a give-back's writes leaves
    complete, outcomes = first.queue.complete, []

    def complete_after_the_duplicate_is_claimed(*args):
        outcomes.append(second.train_claim(second.queue.claim()))
        return complete(*args)

    first.queue.complete = complete_after_the_duplicate_is_claimed
    assert first.train_claim(claim) == Status.OK
    assert outcomes == [DUPLICATE]
    assert [t.state.name for t in trials(results, "tiny")] == ["COMPLETE"]
