"""Claims: many processes claiming at once, where each claim runs (node, Slurm job), when a
claim is taken back (a fake ``squeue`` on PATH stands for Slurm), and a queue healed of runs
whose trials are all void. The study is the planner's, the storage a real journal."""

from __future__ import annotations

import os
import socket
import time
from collections import Counter

import pytest
from optuna.trial import TrialState
from test_study_queue import landscape, queued  # noqa: F401 (a fixture)
from test_study_run import TINY, write_study

from landscape.errors import UserError
from landscape.execution.jobs import SlurmJobs, where
from landscape.execution.queue import Attr, Queue, counted, default_storage, heartbeat_grace
from landscape.study import load_study
from landscape.study.plan import grid_runs


def make_queue(tmp_path, data=TINY, **kw) -> tuple[Queue, list]:
    study = load_study(write_study(tmp_path, data))
    queue = Queue(study, default_storage(tmp_path / study.name), tmp_path / study.name, **kw)
    runs = grid_runs(study)
    queue.add_grid(runs)
    return queue, runs


def drain(queue: Queue) -> Counter:
    """Claim and complete until the queue is empty, as a worker does without training."""
    seen = Counter()
    while (claim := queue.claim()) is not None:
        seen["claims"] += 1
        if queue.recorded(claim):
            queue.discard(claim, "duplicate: the run's result is recorded already")
            seen["duplicates"] += 1
        elif claim.spec.seed % 7 == 3 and claim.attempt == 1:  # some give their run back
            queue.retry(claim, "attempt 1 raised: on purpose")
        else:
            assert queue.complete(claim, 1.0, {})
    return seen


@pytest.mark.slow  # about 20 s on a loaded 2-core machine
def test_processes_claiming_one_grid_at_once_never_crash_and_record_each_run_once(tmp_path):
    data = {**TINY, "seeds": list(range(40))}  # 80 runs
    queue, runs = make_queue(tmp_path, data)
    children = []
    for _ in range(4):
        pid = os.fork()
        if pid == 0:
            try:  # a fresh queue per process, as each worker opens its own
                drain(make_queue(tmp_path, data)[0])
                os._exit(0)
            except BaseException:
                import traceback

                traceback.print_exc()
                os._exit(1)
        children.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    assert codes == [0, 0, 0, 0]  # no claim raised (UpdateFinishedTrialError, ...)
    complete = Counter(
        t.user_attrs[Attr.RUN_ID]
        for t in queue.grid.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    )
    assert set(complete) == {r.run_id for r in runs} and max(complete.values()) == 1
    assert queue.counts() == {"done": len(runs)}


def test_a_claim_records_its_node_and_slurm_job(tmp_path, monkeypatch):
    queue, _ = make_queue(tmp_path)
    claim = queue.claim()
    attrs = queue.storage.get_trial(claim.trial_id).user_attrs
    assert attrs[Attr.NODE] == socket.gethostname() and Attr.SLURM_JOB not in attrs
    assert attrs[Attr.WORKER] == f"{socket.gethostname()}:{os.getpid()}"
    env = {"SLURM_JOB_ID": "1234", "SLURM_ARRAY_JOB_ID": "1200", "SLURM_ARRAY_TASK_ID": "7"}
    for key, value in {**env, "SLURMD_NODENAME": "gpu-17"}.items():
        monkeypatch.setenv(key, value)
    assert where() == {Attr.NODE: "gpu-17", Attr.SLURM_JOB: "1234", Attr.SLURM_ARRAY: "1200_7"}
    claim = queue.claim()
    attrs = queue.storage.get_trial(claim.trial_id).user_attrs
    assert (attrs[Attr.NODE], attrs[Attr.SLURM_JOB], attrs[Attr.SLURM_ARRAY]) == (
        "gpu-17",
        "1234",
        "1200_7",
    )


FAKE_SQUEUE = """#!/bin/sh
echo "$@" >> {log}
{body}
"""


def fake_squeue(tmp_path, monkeypatch, body: str) -> list:
    """A ``squeue`` on PATH running ``body``; returns a function giving its calls so far."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    log = tmp_path / "squeue.calls"
    script = folder / "squeue"
    script.write_text(FAKE_SQUEUE.format(log=log, body=body))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")
    return lambda: log.read_text().splitlines() if log.exists() else []


def test_slurm_is_asked_once_for_all_jobs_and_the_answer_reused(tmp_path, monkeypatch):
    calls = fake_squeue(tmp_path, monkeypatch, 'printf "11 RUNNING\\n12 PENDING\\n14 SUSPENDED\\n"')
    jobs = SlurmJobs()
    states = jobs.states(["11", "12", "13", "14"])
    assert states == {"11": "RUNNING", "12": "PENDING", "13": "", "14": "SUSPENDED"}
    assert calls() == ["-h -j 11,12,13,14 -o %A %T"]
    assert jobs.gone("11") is None and jobs.gone("14") is None  # alive: the claim stays
    assert jobs.gone("12") == "Slurm job 12 is PENDING"  # requeued: its process is gone
    assert jobs.gone("13") == "Slurm job 13 is not listed"
    assert len(calls()) == 1  # cached
    jobs.cache = 0.0
    jobs.states(["11"])
    assert len(calls()) == 2


@pytest.mark.parametrize(
    "body, gone",
    [
        ('echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1', True),
        ('echo "slurm_load_jobs error: Unable to contact slurm controller" >&2; exit 1', False),
    ],
)
def test_a_failing_squeue_decides_only_when_it_says_the_jobs_are_unknown(
    tmp_path, monkeypatch, body, gone
):
    fake_squeue(tmp_path, monkeypatch, body)
    assert (SlurmJobs().gone("99") is not None) == gone


def test_without_squeue_nothing_is_decided_by_slurm(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no squeue there
    assert SlurmJobs().gone("99") is None


def other_hosts_claim(queue: Queue, job: str | None, beat_age: float):
    """A claim made on another host (so no pid check) in Slurm job ``job``, whose last
    heartbeat was ``beat_age`` seconds ago. Make these before faking squeue: claiming
    reclaims too."""
    claim = queue.claim()
    write = queue.storage.set_trial_user_attr
    write(claim.trial_id, Attr.WORKER, "elsewhere:1")
    if job:
        write(claim.trial_id, Attr.SLURM_JOB, job)
    write(claim.trial_id, Attr.HEARTBEAT, time.time() - beat_age)
    return claim


def test_a_claim_whose_slurm_job_ended_is_taken_back_at_once(tmp_path, monkeypatch):
    queue, runs = make_queue(tmp_path, grace=600.0)
    running = other_hosts_claim(queue, "21", beat_age=5)
    cancelled = other_hosts_claim(queue, "22", beat_age=5)
    forgotten = other_hosts_claim(queue, "23", beat_age=5)
    silent = other_hosts_claim(queue, "21", beat_age=700)  # alive in Slurm, stuck past grace
    calls = fake_squeue(tmp_path, monkeypatch, 'printf "21 RUNNING\\n22 CANCELLED\\n"')
    assert queue.reclaim_stale() == 3
    assert len(calls()) == 1  # one squeue for the whole pass
    voided = {
        t.number: t.user_attrs[Attr.VOID]
        for t in queue.grid.get_trials(deepcopy=False)
        if Attr.VOID in t.user_attrs
    }
    assert running.number not in voided
    assert "Slurm job 22 is CANCELLED" in voided[cancelled.number]
    assert "Slurm job 23 is not listed" in voided[forgotten.number]
    assert "no heartbeat for 70" in voided[silent.number]
    assert queue.counts() == {"running": 1, "queued": len(runs) - 1}


def test_the_heartbeat_grace_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no squeue: the heartbeat alone decides
    monkeypatch.setenv("LANDSCAPE_HEARTBEAT_GRACE", "50")
    assert heartbeat_grace() == 50.0
    queue, _ = make_queue(tmp_path)
    fresh = other_hosts_claim(queue, None, beat_age=40)
    old = other_hosts_claim(queue, None, beat_age=60)
    assert queue.reclaim_stale() == 1
    assert queue.storage.get_trial(fresh.trial_id).state == TrialState.RUNNING
    assert queue.storage.get_trial(old.trial_id).state == TrialState.FAIL
    for bad in ("soon", "0", "-5"):
        monkeypatch.setenv("LANDSCAPE_HEARTBEAT_GRACE", bad)
        with pytest.raises(UserError, match=rf"LANDSCAPE_HEARTBEAT_GRACE='{bad}' is not"):
            heartbeat_grace()


def lose(queue: Queue, run_id: str) -> None:
    """Void the run's live trial without queueing it again (what a worker killed between the
    two writes of a give-back left, before they were ordered)."""
    (t,) = [t for t in counted(queue.grid) if t.user_attrs[Attr.RUN_ID] == run_id]
    trial_id = queue.trial_id(queue.grid, t.number)
    queue.storage.set_trial_user_attr(trial_id, Attr.VOID, "worker x lost")
    queue.storage.set_trial_state_values(trial_id, TrialState.FAIL)


def test_run_heals_a_run_whose_trials_are_all_void(tmp_path, landscape):  # noqa: F811
    path, results = queued(tmp_path, landscape)
    queue = Queue(load_study(path), default_storage(results), results)
    lost = queue.claim().spec
    lose(queue, lost.run_id)
    assert queue.counts() == {"queued": 3}
    assert queue.add_grid([lost]) == (1, 0)  # not "known": its only trial is void
    lose(queue, lost.run_id)  # lost again
    code, out, err = landscape("run", path.name, "--workers", "0")
    assert code == 0, err
    assert "1 run(s) had only void trials" in out and lost.run_id in out
    assert "0 new grid runs queued, 4 already known" in out
    assert queue.counts() == {"queued": 4}
    code, out, _ = landscape("run", path.name, "--workers", "0")
    assert "only void trials" not in out  # healed once, not every time
    assert len(counted(queue.grid)) == 4


def test_a_run_queued_again_keeps_its_search_budget_place(tmp_path):
    """Two workers propose at once into a search with one place left; the first one's run is
    given back (queued again under a later trial number) before the second checks its place:
    the second proposal is over budget, not a run more than the search's ``trials``."""
    from test_study_queue import SEARCH

    data = {**TINY, "seeds": [0], "search": {**SEARCH, "trials": 1}}
    study = load_study(write_study(tmp_path, data))
    results = tmp_path / study.name
    mine, other = (Queue(study, default_storage(results), results) for _ in range(2))
    (sc, search), *_ = mine.searches
    ask = search.ask

    def ask_meanwhile(*args, **kwargs):
        first = other.claim()  # the other worker proposes trial 0 ...
        trial = ask(*args, **kwargs)  # ... this one asks trial 1 ...
        other.retry(first, "attempt 1 raised")  # ... and run 0 is queued again as trial 2
        return trial

    search.ask = ask_meanwhile
    assert mine._propose(sc, search) is None  # over budget
    assert len(counted(search)) == 1 and counted(search)[0].state == TrialState.WAITING
