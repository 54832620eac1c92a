"""The system of record: an Optuna storage holding one trial per run, behind a small API.

The grid is one Optuna study (named after the study) whose runs wait as WAITING trials; each
search cell is an Optuna study of its own whose sampler proposes trials as results arrive.
Workers use only this API: ``claim`` (a waiting run, else a new search proposal), ``heartbeat``,
``progress``, ``complete``, ``fail``, ``release`` (give back as it is), ``retry`` (give back,
counting an attempt), ``discard`` (a duplicate claim), and ``retry_failed``. Trials that stand
for nothing (a retry's predecessor, a lost worker's claim, a proposal over budget) carry the
user attr ``void``; of several trials of one run, the latest stands for it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from filelock import FileLock
from optuna.trial import TrialState

from landscape.execution.pruners import make_pruner
from landscape.execution.samplers import make_sampler
from landscape.execution.storage import default_storage, open_storage  # noqa: F401 (re-exported)
from landscape.execution.trials import (  # noqa: F401 (re-exported)
    COUNT_OF,
    DONE,
    FAILED,
    PRUNED,
    QUEUED,
    RUNNING,
    Attr,
    alive,
    count_of,
    counted,
    failure_of,
    waiting_trial,
)
from landscape.records import AXES, PROTOCOL_VERSION, Status
from landscape.study.plan import SearchCell, cells, search_cells, search_run, search_space
from landscape.study.spec import StudySpec
from landscape.train import RunSpec

HEARTBEAT_GRACE = 600.0  # seconds without a heartbeat before another host's claim is stale


@dataclass
class Lease:
    study: optuna.Study
    trial_id: int
    number: int
    spec: RunSpec
    attempt: int


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Queue:
    def __init__(self, study: StudySpec, storage_url: str, lock_dir: Path) -> None:
        self.spec, self.url = study, storage_url
        self.storage = open_storage(storage_url)
        lock_dir = Path(lock_dir).absolute()
        lock_dir.mkdir(parents=True, exist_ok=True)
        self.lock = FileLock(str(lock_dir / ".queue.lock"))
        self._ids: dict[str, int] = {}
        self.grid = self._study(study.name, None)
        self.searches = [
            (sc, self._study(f"{study.name}:search:{sc.key}", sc)) for sc in search_cells(study)
        ]

    def _study(self, name: str, sc: SearchCell | None) -> optuna.Study:
        sampler, pruner = optuna.samplers.RandomSampler(), None
        if sc is not None:
            assert self.spec.search is not None
            s = self.spec.search
            sampler = make_sampler(s.sampler, s.seed, sc.key, s.startup_trials)
            pruner = make_pruner(s.pruner, s.pruner_options)  # grid runs are never pruned
        known = {s.study_name for s in self.storage.get_all_studies()}
        if name in known:  # loading writes nothing: `landscape status` only reads
            return optuna.load_study(
                study_name=name, storage=self.storage, sampler=sampler, pruner=pruner
            )
        return optuna.create_study(
            study_name=name,
            storage=self.storage,
            sampler=sampler,
            pruner=pruner,
            direction="minimize",
            load_if_exists=True,
        )

    def studies(self) -> list[optuna.Study]:
        return [self.grid] + [s for _, s in self.searches]

    def trial_id(self, study: optuna.Study, number: int) -> int:
        if study.study_name not in self._ids:
            self._ids[study.study_name] = self.storage.get_study_id_from_name(study.study_name)
        return self.storage.get_trial_id_from_study_id_trial_number(
            self._ids[study.study_name], number
        )

    # -- planning ---------------------------------------------------------------------------
    def add_grid(self, runs: list[RunSpec]) -> tuple[int, int]:
        """Enqueue the runs no trial holds yet; returns (new, already there)."""
        with self.lock:
            known = {t.user_attrs.get(Attr.RUN_ID) for t in self.grid.get_trials(deepcopy=False)}
            new = [r for r in runs if r.run_id not in known]
            for run in new:
                self.grid.add_trial(waiting_trial(run, attempt=1))
        return len(new), len(runs) - len(new)

    def supersede_unstarted(self, runs_dir: Path) -> int:
        """Void the queued grid runs of an older training protocol (records.PROTOCOL_CHANGES)
        that never started (no run folder): add_grid queued their current-version runs. One
        that started keeps its version and resumes under it. Returns how many were voided."""
        n = 0
        with self.lock:
            for t in self.grid.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
                spec = RunSpec.from_record(json.loads(t.user_attrs[Attr.SPEC]))
                old = spec.protocol_version != PROTOCOL_VERSION
                if old and not (runs_dir / spec.run_id).exists():
                    trial_id = self.trial_id(self.grid, t.number)
                    if self.storage.set_trial_state_values(trial_id, TrialState.RUNNING):  # claim
                        reason = f"superseded by training protocol {PROTOCOL_VERSION}"
                        n += self._void(self.grid, trial_id, t.number, reason)
        return n

    def retry_failed(self) -> list[str]:
        """Queue every failed run again (a fresh attempt count); returns their run ids."""
        out = []
        with self.lock:
            for study in self.studies():
                for t in counted(study):
                    if t.state == TrialState.FAIL:
                        spec = RunSpec.from_record(json.loads(t.user_attrs[Attr.SPEC]))
                        study.add_trial(waiting_trial(spec, 1, t))
                        out.append(spec.run_id)
        return out

    # -- claiming ---------------------------------------------------------------------------
    def claim(self) -> Lease | None:
        """The next run to train: a waiting one, else a new search proposal, else None."""
        self.reclaim_stale()
        for study in self.studies():
            for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
                trial_id = self.trial_id(study, t.number)
                if self.storage.set_trial_state_values(trial_id, TrialState.RUNNING):
                    return self._claimed(study, trial_id, t.number, t.user_attrs)
        for sc, study in self.searches:
            claim = self._propose(sc, study)
            if claim:
                return claim
        return None

    def _claimed(self, study, trial_id: int, number: int, attrs: dict[str, Any]) -> Lease:
        self.storage.set_trial_user_attr(trial_id, Attr.WORKER, owner())
        self.storage.set_trial_user_attr(trial_id, Attr.HEARTBEAT, time.time())
        spec = RunSpec.from_record(json.loads(attrs[Attr.SPEC]))
        return Lease(study, trial_id, number, spec, attrs.get(Attr.ATTEMPT, 1))

    def _propose(self, sc: SearchCell, study: optuna.Study) -> Lease | None:
        assert self.spec.search is not None
        budget = self.spec.search.trials
        if len(counted(study)) >= budget:
            return None
        trial = study.ask(search_space(self.spec, sc))
        trial_id = self.trial_id(study, trial.number)
        earlier = [t for t in counted(study) if t.number < trial.number]
        if len(earlier) >= budget:  # another worker took the last place first
            self._void(study, trial_id, trial.number, "over budget")
            return None
        params = dict(trial.params)
        if sc.cell is None and tuple(params[a] for a in AXES) not in set(cells(self.spec)):
            self._void(study, trial_id, trial.number, "excluded cell proposed")
            return None
        spec = search_run(self.spec, sc, params, trial.number)
        attrs = {
            Attr.RUN_ID: spec.run_id,
            Attr.SPEC: json.dumps(spec.to_dict()),
            Attr.ORIGIN: spec.origin,
            Attr.ATTEMPT: 1,
        }
        for key, value in attrs.items():
            self.storage.set_trial_user_attr(trial_id, key, value)
        return self._claimed(study, trial_id, trial.number, attrs)

    # -- while a run trains -------------------------------------------------------------------
    def heartbeat(self, claim: Lease, step: int | None = None) -> bool:
        """Tell the storage the claim is alive; False once the trial was ended elsewhere."""
        try:
            self.storage.set_trial_user_attr(claim.trial_id, Attr.HEARTBEAT, time.time())
            if step is not None:
                self.storage.set_trial_user_attr(claim.trial_id, Attr.STEP, step)
            return True
        except optuna.exceptions.UpdateFinishedTrialError:
            return False

    def progress(self, claim: Lease, step: int, value: float) -> bool:
        """An intermediate score (the FID of the evaluation at ``step``); False once the trial
        was ended elsewhere (``complete`` then queues the run again)."""
        try:
            self.storage.set_trial_intermediate_value(claim.trial_id, step, value)
            return True
        except optuna.exceptions.UpdateFinishedTrialError:
            return False

    def should_prune(self, claim: Lease, step: int, value: float) -> bool:
        """Report the FID of the evaluation at ``step`` as it happens, and ask the search's
        pruner whether the run should stop there. Never for a grid (or target) run, never at
        step 0 (the untrained generator is no rung), never without a pruner."""
        if not self.progress(claim, step, value) or step <= 0 or claim.study is self.grid:
            return False
        if self.spec.search is None or self.spec.search.pruner is None:
            return False
        # what optuna.Trial.should_prune does, without building a Trial (that calls the
        # sampler's before_trial hook, which is for trials being proposed)
        return claim.study.pruner.prune(claim.study, self.storage.get_trial(claim.trial_id))

    def prune(self, claim: Lease, value: float, attrs: dict[str, Any]) -> bool:
        """Record a run the pruner stopped (``attrs`` carries Status.PRUNED, its step and last
        FID). It is told to Optuna as COMPLETE with ``value`` = its best FID so far, not as
        PRUNED: GPSampler (like every sampler but TPE) learns only from complete trials, and
        would propose the same poor region again. The best FID so far is an upper bound on the
        FID the trial would have ended with (a run's score is its minimum over evaluations), so
        the model is told a pessimistic value where the trial gave up (a constant liar that
        lies on the safe side). Counted toward the search's ``trials``; returns as complete."""
        return self.complete(claim, value, {**attrs, Attr.STATUS: Status.PRUNED})

    # -- finishing --------------------------------------------------------------------------
    def complete(self, claim: Lease, value: float, attrs: dict[str, Any]) -> bool:
        """Record the run's result. False when another worker took this claim for a lost one
        (and queued it again: whoever takes it records it from its folder without training)."""
        try:
            for key, item in attrs.items():
                self.storage.set_trial_user_attr(claim.trial_id, str(key), item)
            claim.study.tell(claim.number, value)
            return True
        except (optuna.exceptions.UpdateFinishedTrialError, RuntimeError, ValueError):
            if not self._held_elsewhere(claim):
                self.requeue(claim, claim.attempt)
            return False

    def _held_elsewhere(self, claim: Lease) -> bool:
        """Whether another live trial (waiting, running or complete) stands for the run."""
        return any(
            t.user_attrs.get(Attr.RUN_ID) == claim.spec.run_id and t.number != claim.number
            for t in counted(claim.study)
            if t.state in (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE)
        )

    def fail(self, claim: Lease, message: str) -> None:
        """Record the run as failed for good, with its error."""
        try:
            self.storage.set_trial_user_attr(claim.trial_id, Attr.STATUS, Status.FAILED)
            self.storage.set_trial_user_attr(claim.trial_id, Attr.ERROR, message)
            claim.study.tell(claim.number, state=TrialState.FAIL)
        except (optuna.exceptions.UpdateFinishedTrialError, RuntimeError, ValueError):
            pass  # taken for lost elsewhere and queued again: that attempt decides

    def release(self, claim: Lease, reason: str) -> None:
        """Give the run back as it is (interrupted, or this worker cannot train it)."""
        if self._void(claim.study, claim.trial_id, claim.number, reason):
            self.requeue(claim, claim.attempt)

    def retry(self, claim: Lease, reason: str) -> None:
        """Give the run back after an error: the next try counts as another attempt."""
        if self._void(claim.study, claim.trial_id, claim.number, reason):
            self.requeue(claim, claim.attempt + 1)

    def discard(self, claim: Lease, reason: str) -> None:
        """End a claim that stands for nothing (its run is trained or recorded elsewhere)."""
        self._void(claim.study, claim.trial_id, claim.number, reason)

    def requeue(self, claim: Lease, attempt: int) -> None:
        """Queue the claim's run again as a new WAITING trial with the same parameters."""
        frozen = self.storage.get_trial(claim.trial_id)
        claim.study.add_trial(waiting_trial(claim.spec, attempt, frozen))

    def _void(self, study: optuna.Study, trial_id: int, number: int, reason: str) -> bool:
        """Mark a trial as standing for nothing; False if another process ended it first."""
        try:
            self.storage.set_trial_user_attr(trial_id, Attr.VOID, reason)
            study.tell(number, state=TrialState.FAIL)
            return True
        except (optuna.exceptions.UpdateFinishedTrialError, RuntimeError, ValueError):
            return False

    def recorded(self, claim: Lease) -> bool:
        """Whether another trial already holds this run's result."""
        return any(
            t.state == TrialState.COMPLETE and t.user_attrs.get(Attr.RUN_ID) == claim.spec.run_id
            for t in claim.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if Attr.VOID not in t.user_attrs
        )

    def reclaim_stale(self) -> int:
        """Claims of dead workers go back to the queue: on this host when the process is gone,
        elsewhere when its heartbeat is older than HEARTBEAT_GRACE."""
        host, n = socket.gethostname(), 0
        for study in self.studies():
            for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                who = t.user_attrs.get(Attr.WORKER, "")
                # A claim is stamped a moment after it is taken: until then its start time
                # stands for its heartbeat, so a fresh claim is never taken for a dead one.
                started = t.datetime_start.timestamp() if t.datetime_start else time.time()
                beat = t.user_attrs.get(Attr.HEARTBEAT, started)
                w_host, _, pid = who.rpartition(":")
                dead = (w_host == host and pid.isdigit() and not alive(int(pid))) or (
                    time.time() - beat > HEARTBEAT_GRACE
                )
                if dead and Attr.SPEC not in t.user_attrs:  # died while proposing it
                    self._void(study, self.trial_id(study, t.number), t.number, "proposal lost")
                elif dead:
                    spec = RunSpec.from_record(json.loads(t.user_attrs[Attr.SPEC]))
                    trial_id = self.trial_id(study, t.number)
                    attempt = t.user_attrs.get(Attr.ATTEMPT, 1)
                    claim = Lease(study, trial_id, t.number, spec, attempt)
                    self.release(claim, f"worker {who} lost")
                    n += 1
        return n

    # -- reading ----------------------------------------------------------------------------
    def counts(self) -> Counter:
        """Runs by state: done (ok or diverged), pruned, failed, running, queued."""
        return Counter(count_of(t) for s in self.studies() for t in counted(s))

    def run_ids(self, states: tuple[TrialState, ...]) -> set[str]:
        return {
            t.user_attrs.get(Attr.RUN_ID)
            for s in self.studies()
            for t in counted(s)
            if t.state in states
        }

    def running(self) -> list[tuple[str, str, str, int | None]]:
        """(run_id, origin, worker, last step reported) of every run being trained."""
        return [
            (
                t.user_attrs.get(Attr.RUN_ID, "(proposal)"),
                t.user_attrs.get(Attr.ORIGIN, ""),
                t.user_attrs.get(Attr.WORKER, "?"),
                t.user_attrs.get(Attr.STEP),
            )
            for s in self.studies()
            for t in counted(s)
            if t.state == TrialState.RUNNING
        ]

    def failures(self) -> list[tuple[str, str, str]]:
        """(run_id, origin, error) of every failed run."""
        return [
            (t.user_attrs[Attr.RUN_ID], t.user_attrs.get(Attr.ORIGIN, ""), failure_of(t))
            for s in self.studies()
            for t in counted(s)
            if t.state == TrialState.FAIL
        ]
