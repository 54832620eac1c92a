"""No run is ever lost when a process is killed between two storage writes.

For each queue operation that takes several writes (give a claim back, retry it, take back a
dead worker's claim, claim, propose a search trial), a forked child does it against a real
journal of a real (planned) study and is killed with ``os._exit`` right after its k-th write,
for every k until the operation completes unkilled. After each kill every run of the study
still has a trial standing for it (no gap), and draining the queue the way workers do (a
claim whose run is recorded already is discarded) records each run exactly once.
"""

from __future__ import annotations

import os
import traceback
from collections import Counter

import pytest
from optuna.storages import JournalStorage
from optuna.trial import TrialState
from test_study_queue import SEARCH
from test_study_run import TINY, write_study

from landscape.execution.queue import Queue, counted, default_storage
from landscape.study import load_study
from landscape.study.plan import grid_runs

WRITES = (
    "create_new_trial",
    "set_trial_state_values",
    "set_trial_user_attr",
    "set_trial_system_attr",
    "set_trial_param",
    "set_trial_intermediate_value",
)
KILLED, FINISHED = 17, 0


def forked(action, kill_after: int | None) -> int:
    """Run ``action()`` in a forked child killed (os._exit) right after its ``kill_after``-th
    storage write; returns the child's exit status (KILLED or FINISHED)."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            count = [0]
            for name in WRITES:
                real = getattr(JournalStorage, name)

                def write(self, *args, _real=real, **kwargs):
                    out = _real(self, *args, **kwargs)
                    count[0] += 1
                    if count[0] == kill_after:
                        os._exit(KILLED)
                    return out

                setattr(JournalStorage, name, write)
            action()
            os._exit(FINISHED)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def setup(tmp_path, data):
    study = load_study(write_study(tmp_path, data))
    results = tmp_path / study.name

    def queue(**kw) -> Queue:
        return Queue(study, default_storage(results), results, **kw)

    queue().add_grid(grid_runs(study))
    return study, queue


def claim_in_a_dead_process(queue):
    """A claim held by a process that is gone (as a SIGKILLed worker leaves it)."""
    assert forked(lambda: queue().claim(), None) == FINISHED


def check_no_run_lost_then_drain(queue, expected: set[str], may_fail: bool = False) -> None:
    q = queue(grace=0.0)  # every claimant is dead by now
    standing = {t.user_attrs.get("run_id"): t.state for s in q.studies() for t in counted(s)}
    assert expected <= set(standing), f"lost: {expected - set(standing)}"
    failed = {run_id for run_id, state in standing.items() if state == TrialState.FAIL}
    assert may_fail or not failed
    expected = expected - failed  # failed for good: recorded, not lost
    q.reclaim_stale()
    while (claim := q.claim()) is not None:  # what Worker.train_claim does, minus training
        if q.recorded(claim):
            q.discard(claim, "duplicate: the run's result is recorded already")
        else:
            assert q.complete(claim, 1.0, {})
    done = Counter(
        t.user_attrs["run_id"]
        for s in q.studies()
        for t in s.get_trials(deepcopy=False)
        if t.state == TrialState.COMPLETE
    )
    assert set(done) == expected and max(done.values()) == 1, done
    assert q.counts() == {"done": len(done), **({"failed": len(failed)} if failed else {})}


def give_back(method: str):
    def act(q: Queue) -> None:
        (claim,) = [c for c in [q.claim()] if c]
        getattr(q, method)(claim, "test")

    return act


def reclaim(q: Queue) -> None:
    assert q.reclaim_stale() == 1  # the claim of the process that prepare() let die


OPERATIONS = {
    "release": give_back("release"),
    "retry": give_back("retry"),
    "reclaim_stale": reclaim,
    "claim": lambda q: q.claim(),
    "complete": lambda q: q.complete(q.claim(), 2.0, {"fid": 2.0}),
    "fail": lambda q: q.fail(q.claim(), "boom"),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_a_kill_after_any_write_loses_no_run(tmp_path, operation):
    act = OPERATIONS[operation]
    for k in range(1, 40):
        folder = tmp_path / f"k{k}"
        folder.mkdir()
        study, queue = setup(folder, TINY)
        expected = {r.run_id for r in grid_runs(study)}
        if operation == "reclaim_stale":
            claim_in_a_dead_process(queue)
        status = forked(lambda q=queue: act(q()), kill_after=k)
        assert status in (KILLED, FINISHED), status
        check_no_run_lost_then_drain(queue, expected, may_fail=operation == "fail")
        if status == FINISHED:
            break
    else:
        raise AssertionError(f"{operation} never finished within 39 writes")
    assert k > 1  # it was killed at least once


def test_a_kill_while_a_search_proposes_loses_no_budget_place(tmp_path):
    data = {**TINY, "seeds": [0], "grid": {**TINY["grid"], "loss": ["ns"]}, "search": SEARCH}
    for k in range(1, 60):
        folder = tmp_path / f"k{k}"
        folder.mkdir()
        study, queue = setup(folder, data)
        grid = {r.run_id for r in grid_runs(study)}
        claims = len(grid)
        assert forked(lambda q=queue, n=claims: [q().claim() for _ in range(n)], None) == 0
        status = forked(lambda q=queue: q().claim(), kill_after=k)  # a search proposal
        q = queue(grace=0.0)
        q.reclaim_stale()
        taken = []
        while (claim := q.claim()) is not None:
            taken.append(claim.spec.origin)
            assert q.complete(claim, 1.0, {})
        (_, search), *_ = q.searches
        assert len(counted(search)) == SEARCH["trials"], k  # the killed proposal's place freed
        assert all(t.state == TrialState.COMPLETE for t in counted(search))
        if status == FINISHED:
            break
    assert k > 1
