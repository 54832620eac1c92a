"""The queue's storage without training: the journal lock, a damaged journal, storage errors,
the sampler registry, what a trial records. Each case is the real producer (the planner, the
CLI) against a journal in tmp_path."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_study_run import CLI, TINY, cli, write_study

from landscape.execution.queue import Queue, default_storage
from landscape.execution.samplers import SAMPLERS, make_sampler
from landscape.execution.storage import JournalLock, StorageError, open_storage
from landscape.execution.worker import best_metrics
from landscape.records import JOURNAL
from landscape.study import load_study
from landscape.study.plan import grid_runs

SEARCH = {"sampler": "random", "trials": 2, "n_disc": [1], "ranges": {"lr": [1e-4, 1e-3, "log"]}}


@pytest.fixture
def landscape(tmp_path, monkeypatch, capsys):
    """``landscape ARGS`` in this process, from tmp_path (so the default results folder is
    the relative ``results/``); returns (exit status, stdout, stderr)."""
    from landscape.cli import main

    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def queued(tmp_path: Path, landscape, data: dict = TINY) -> tuple[Path, Path]:
    """The study queued with `landscape run --workers 0` and the default (relative) results
    folder; returns (study file, results folder)."""
    path = write_study(tmp_path, data)
    code, _, err = landscape("run", path.name, "--workers", "0")
    assert code == 0, err
    return path, tmp_path / "results" / data["name"]


def test_a_dangling_optuna_lock_from_a_relative_path_never_hangs(tmp_path, landscape):
    path, results = queued(tmp_path, landscape)
    link = results / f"{JOURNAL}.lock"  # what Optuna's symlink lock left behind before
    link.symlink_to(Path("results") / "tiny" / JOURNAL)
    assert not link.exists()  # relative to its own folder, the target dangles
    start = time.monotonic()
    proc = cli("status", path.name, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "tiny: 0 done, 0 running, 0 failed, 4 left of 4" in proc.stdout
    assert time.monotonic() - start < 30
    assert not link.is_symlink()  # cleared, so Optuna's own tools do not spin on it either


HOLDER = """
import sys, time
from pathlib import Path
from landscape.execution.storage import JournalLock
JournalLock(Path(sys.argv[1])).acquire()
print("held", flush=True)
time.sleep(120)
"""


def test_a_lock_holder_killed_mid_hold_blocks_nobody(tmp_path):
    journal = tmp_path / JOURNAL
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(journal)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    # alive, it holds the lock: a waiter gives up naming the holder, never waits forever
    with pytest.raises(StorageError, match=rf"held for over 0 s by .*:{holder.pid}"):
        JournalLock(journal, timeout=0.3).acquire()
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    start = time.monotonic()
    storage = open_storage(f"journal:{journal}")  # takes the lock to check the journal
    storage.create_new_study([], "after-the-kill")
    assert time.monotonic() - start < 5
    assert "after-the-kill" in journal.read_text()


def test_a_torn_last_line_is_cut_off_and_the_original_kept(tmp_path, landscape):
    path, results = queued(tmp_path, landscape)
    journal = results / JOURNAL
    whole = journal.read_bytes()
    torn = whole + b'{"op_code":5,"worker_id":"x","trial_id":0,"us'  # killed mid-write
    journal.write_bytes(torn)
    code, out, err = landscape("status", path.name)
    assert code == 0, err
    assert "cut off a torn last line" in out
    assert "tiny: 0 done, 0 running, 0 failed, 4 left of 4" in out
    (copy,) = results.glob(f"{JOURNAL}.torn-*")
    assert copy.read_bytes() == torn and journal.read_bytes() == whole
    code, out, _ = landscape("run", path.name, "--workers", "0")  # it writes on, readably
    assert code == 0 and "0 new grid runs queued, 4 already known" in out


@pytest.mark.parametrize(
    "damage, what",
    [
        (lambda lines: lines[:2] + [b"\xff\xfe\x00garbage"] + lines[2:], "is not UTF-8 text"),
        (lambda lines: lines[:2] + [lines[2][:15]] + lines[3:], "is not JSON"),
    ],
)
def test_a_damaged_journal_names_the_file_the_line_and_the_way_out(
    tmp_path, landscape, damage, what
):
    path, results = queued(tmp_path, landscape)
    journal = results / JOURNAL
    lines = journal.read_bytes().split(b"\n")
    journal.write_bytes(b"\n".join(damage(lines)))
    code, _, err = landscape("status", path.name)
    assert code == 2
    assert f"journal {journal.absolute()}: line 3 {what}" in err
    assert "--rebuild-queue" in err
    code, out, err = landscape("run", path.name, "--workers", "0", "--rebuild-queue")
    assert code == 0, err
    assert "4 new grid runs queued" in out
    assert len(list(results.glob(f"{JOURNAL}.broken-*"))) == 1


def test_a_journal_path_given_as_a_url_says_what_was_meant(tmp_path, landscape):
    path = write_study(tmp_path, TINY)
    code, _, err = landscape("status", path.name, "--storage", "results/x/optuna.journal")
    assert code == 2 and "did you mean journal:results/x/optuna.journal" in err


def test_a_database_that_does_not_answer_is_a_message(tmp_path, landscape):
    path = write_study(tmp_path, TINY)
    url = "postgresql+psycopg://u@127.0.0.1:9/x"
    code, _, err = landscape("worker", path.name, "--storage", url)
    assert code == 2 and f"storage {url}:" in err
    assert re.search(r"connect|driver", err)


def test_a_read_only_results_folder_is_a_message(tmp_path, monkeypatch, landscape):
    from landscape.execution import storage

    real_open = os.open

    def refuse(file, flags, *args):  # root ignores chmod: refuse the lock file instead
        if str(file).endswith(storage.LOCK_SUFFIX):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, flags, *args)

    monkeypatch.setattr(storage.os, "open", refuse)
    path = write_study(tmp_path, TINY)
    code, _, err = landscape("run", str(path), "--workers", "0", "--results", str(tmp_path))
    assert code == 2
    assert f"journal {tmp_path / 'tiny' / JOURNAL}: Permission denied" in err
    assert "must be writable" in err


def test_an_unknown_sampler_lists_the_registered_ones():
    with pytest.raises(KeyError, match=r"unknown sampler 'x'; choose from: gp, random, tpe"):
        make_sampler("x", 0, "cell", 10)
    import landscape

    assert landscape.SAMPLERS is SAMPLERS


def test_a_sampler_from_a_plugin_file_proposes_the_search_trials(tmp_path):
    (tmp_path / "lowest.py").write_text(
        "import optuna\n"
        "from landscape.execution.samplers import SAMPLERS\n"
        "class Lowest(optuna.samplers.RandomSampler):\n"
        "    def sample_independent(self, study, trial, name, dist):\n"
        "        return dist.low\n"
        "@SAMPLERS.register('lowest_test')\n"
        "def lowest(seed, startup_trials):\n    return Lowest(seed=seed)\n"
    )
    search = {**SEARCH, "sampler": "lowest_test"}  # valid once the study's plugin is loaded
    data = {**TINY, "plugins": ["lowest.py"], "seeds": [0], "search": search}
    try:
        study = load_study(write_study(tmp_path, data))
        assert study.search.sampler == "lowest_test"
        queue = Queue(study, default_storage(tmp_path / "tiny"), tmp_path / "tiny")
        claim = queue.claim()  # no grid queued: the search proposes
        assert claim is not None and claim.spec.origin.startswith("search:")
        assert claim.spec.lr == pytest.approx(1e-4)  # the plugin's choice, the range's low end
    finally:
        SAMPLERS._entries.pop("lowest_test", None)


def test_the_readme_sampler_plugin_works_as_printed(tmp_path, restore_registries):
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    (code,) = re.findall(r"```python\n# my_samplers.py\n(.*?)```", readme, re.S)
    (tmp_path / "my_samplers.py").write_text(code)
    search = {**SEARCH, "sampler": "qmc"}
    data = {**TINY, "plugins": ["my_samplers.py"], "seeds": [0], "search": search}
    study = load_study(write_study(tmp_path, data))
    queue = Queue(study, default_storage(tmp_path / "tiny"), tmp_path / "tiny")
    claim = queue.claim()
    assert claim is not None and 1e-4 <= claim.spec.lr <= 1e-3
    (sc, optuna_study), *_ = queue.searches
    assert type(optuna_study.sampler).__name__ == "QMCSampler"


def test_every_numeric_metric_of_the_best_evaluation_is_recorded():
    best = {"step": 6, "time": 1.5, "eval_seconds": 0.2, "protocol": "digits-v1", "fid": 3.0}
    best |= {"is_mean": 1.25, "kid_mean": 0.5, "brand_new": 7, "flag": True, "status": 1.0}
    assert best_metrics(best) == {"fid": 3.0, "is_mean": 1.25, "kid_mean": 0.5, "brand_new": 7}
    assert best_metrics(None) == {}


def test_the_queue_reads_no_private_optuna_attribute():
    root = Path(__file__).parent.parent / "landscape" / "study"
    for file in root.glob("*.py"):
        text = file.read_text()
        assert "._trial_id" not in text and "._storage" not in text, file


def test_a_queue_claims_each_waiting_run_once_through_the_api(tmp_path):
    study = load_study(write_study(tmp_path, {**TINY, "seeds": [0]}))
    queue = Queue(study, default_storage(tmp_path / "tiny"), tmp_path / "tiny")
    assert queue.add_grid(grid_runs(study)) == (2, 0)
    first, second = queue.claim(), queue.claim()
    assert queue.claim() is None and {first.spec.run_id, second.spec.run_id} == {
        r.run_id for r in grid_runs(study)
    }
    assert queue.heartbeat(first, step=3)
    queue.progress(first, 3, 12.5)
    assert queue.complete(first, 12.5, {"fid": 12.5})
    assert not queue.heartbeat(first)  # ended: the heartbeat says so instead of raising
    queue.retry(second, "attempt 1 raised: boom")
    again = queue.claim()
    assert again.spec.run_id == second.spec.run_id and again.attempt == 2
    queue.fail(again, "boom")
    assert queue.counts() == {"done": 1, "failed": 1}
    assert queue.failures() == [(again.spec.run_id, again.spec.origin, "boom")]
    assert queue.retry_failed() == [again.spec.run_id]
    assert queue.counts() == {"done": 1, "queued": 1}
    assert queue.claim().attempt == 1
    (done,) = [t for t in queue.grid.trials if t.state.name == "COMPLETE"]
    assert done.intermediate_values == {3: 12.5} and done.user_attrs["fid"] == 12.5


def test_the_worker_command_line_is_unchanged_by_a_relative_results_folder(tmp_path):
    from landscape.execution.runner import worker_command

    study = load_study(write_study(tmp_path, TINY))
    command = worker_command(study, default_storage(Path("results/tiny")), Path("results"))
    assert command[: len(CLI)] == CLI
    storage = command[command.index("--storage") + 1]
    assert storage.startswith("journal:/") and storage.endswith("results/tiny/optuna.journal")


def test_damage_appearing_while_the_queue_is_open_is_a_message(tmp_path):
    study = load_study(write_study(tmp_path, TINY))
    queue = Queue(study, default_storage(tmp_path / "tiny"), tmp_path / "tiny")
    queue.add_grid(grid_runs(study))
    journal = tmp_path / "tiny" / JOURNAL
    with open(journal, "ab") as f:
        f.write(b"\xff garbage\n")
    with pytest.raises(StorageError, match=rf"journal {journal}: line \d+ is not UTF-8"):
        queue.counts()


def test_a_search_proposal_whose_worker_died_before_naming_its_run_is_void(tmp_path):
    import socket

    from landscape.execution.queue import Attr

    data = {**TINY, "seeds": [0], "search": SEARCH}
    study = load_study(write_study(tmp_path, data))
    queue = Queue(study, default_storage(tmp_path / "tiny"), tmp_path / "tiny")
    (_, search), *_ = queue.searches
    trial = search.ask()  # asked, then the worker died before it set the run's attrs
    dead = subprocess.Popen(["true"])
    dead.wait()
    trial_id = queue.trial_id(search, trial.number)
    queue.storage.set_trial_user_attr(trial_id, Attr.WORKER, f"{socket.gethostname()}:{dead.pid}")
    assert queue.counts() == {"running": 1}
    queue.reclaim_stale()
    assert queue.counts() == {}  # the budget place is free again
    claim = queue.claim()
    assert claim.spec.origin.startswith("search:") and claim.number == trial.number + 1


def test_a_claim_taken_for_lost_meanwhile_is_queued_again_not_recorded_twice(tmp_path):
    study = load_study(write_study(tmp_path, {**TINY, "seeds": [0]}))
    queue = Queue(study, default_storage(tmp_path / "tiny"), tmp_path / "tiny")
    queue.add_grid(grid_runs(study)[:1])
    slow = queue.claim()
    queue.release(slow, "worker lost")  # what another worker's reclaim_stale does
    assert not queue.progress(slow, 3, 9.0)
    assert not queue.complete(slow, 9.0, {})  # the run goes back: its folder holds the result
    assert queue.counts() == {"queued": 1}
    again = queue.claim()
    assert again.spec.run_id == slow.spec.run_id and queue.complete(again, 9.0, {})
    assert queue.counts() == {"done": 1}


def test_status_shows_each_running_run_at_its_last_reported_step(tmp_path, landscape):
    from landscape.execution.worker import last_step

    path, results = queued(tmp_path, landscape, {**TINY, "seeds": [0]})
    queue = Queue(load_study(path), default_storage(results), results)
    claim = queue.claim()
    log = tmp_path / "train.jsonl"
    log.write_text('{"step": 2}\n{"step": 4}\n{"step": 6, "loss')  # the last line is torn
    assert last_step(log) == 4 and last_step(tmp_path / "absent.jsonl") is None
    assert queue.heartbeat(claim, last_step(log))
    code, out, _ = landscape("status", path.name)
    assert code == 0 and f"running: {claim.spec.run_id} ({claim.spec.origin}) at step 4" in out
