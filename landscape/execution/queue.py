"""The system of record: an Optuna storage holding one trial per run, behind a small API.

The grid is one Optuna study (named after the study) whose runs wait as WAITING trials; each
search cell is an Optuna study of its own whose sampler proposes trials as results arrive.
Workers use only this API: ``claim`` (a waiting run, else a new search proposal), ``heartbeat``,
``progress``, ``complete``, ``fail``, ``release`` (give back as it is), ``retry`` (give back,
counting an attempt), ``discard`` (a duplicate claim), and ``retry_failed``. Trials that stand
for nothing (a retry's predecessor, a lost worker's claim, a proposal over budget) carry the
user attr ``void``; of several trials of one run, the latest stands for it.

No run is ever lost between two writes: a change that takes several writes adds the run's new
WAITING trial before it ends the old one, so a process killed in between leaves at worst a
duplicate (whoever claims it finds the run recorded, or records it from its finished folder
without training, and discards the duplicate), never a run with no live trial. ``heal`` queues
again a run that has only void trials all the same (a queue written before this order).
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

from landscape.errors import UserError
from landscape.execution.jobs import SlurmJobs, where
from landscape.execution.pruners import make_pruner
from landscape.execution.samplers import make_sampler
from landscape.execution.storage import (  # noqa: F401 (re-exported)
    CANDIDATES,
    default_storage,
    open_storage,
    take,
    waiting,
)
from landscape.execution.trials import (  # noqa: F401 (re-exported)
    COUNT_OF,
    DONE,
    FAILED,
    PRUNED,
    QUEUED,
    RUNNING,
    Attr,
    Gave,
    alive,
    count_of,
    counted,
    failure_of,
    is_void,
    waiting_trial,
)
from landscape.records import AXES, PROTOCOL_VERSION, Status
from landscape.study.plan import SearchCell, cells, search_cells, search_run, search_space
from landscape.study.spec import StudySpec
from landscape.train import RunSpec
from landscape.train.spec import as_recorded

HEARTBEAT_GRACE = 600.0  # default seconds without a heartbeat before a claim is stale
GRACE_ENV = "LANDSCAPE_HEARTBEAT_GRACE"  # seconds, overriding HEARTBEAT_GRACE


def heartbeat_grace() -> float:
    """Seconds without a heartbeat before a claim (whose death is not known sooner) is taken
    back: $LANDSCAPE_HEARTBEAT_GRACE, else HEARTBEAT_GRACE. Keep it well above the workers'
    heartbeat period (worker.HEARTBEAT_EVERY, 30 s)."""
    text = os.environ.get(GRACE_ENV, "").strip()
    if not text:
        return HEARTBEAT_GRACE
    try:
        grace = float(text)
    except ValueError:
        grace = -1.0
    if not grace > 0:
        raise UserError(f"{GRACE_ENV}={text!r} is not a number of seconds above 0 (e.g. 600)")
    return grace


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
    def __init__(
        self, study: StudySpec, storage_url: str, lock_dir: Path, *, grace: float | None = None
    ) -> None:
        self.spec, self.url = study, storage_url
        self.grace = heartbeat_grace() if grace is None else grace
        self.slurm = SlurmJobs()
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

    def study_id(self, study: optuna.Study) -> int:
        if study.study_name not in self._ids:
            self._ids[study.study_name] = self.storage.get_study_id_from_name(study.study_name)
        return self._ids[study.study_name]

    def trial_id(self, study: optuna.Study, number: int) -> int:
        return self.storage.get_trial_id_from_study_id_trial_number(self.study_id(study), number)

    def in_state(self, study: optuna.Study, state: TrialState) -> list[optuna.trial.FrozenTrial]:
        """The trials of ``study`` in ``state``, read from the storage itself: a study's own
        ``get_trials`` goes through Optuna's cache, which on PostgreSQL re-reads every
        unfinished trial (all 540 waiting runs of a paper grid, each claim) to pick a few."""
        return self.storage.get_all_trials(self.study_id(study), deepcopy=False, states=(state,))

    # -- planning ---------------------------------------------------------------------------
    def add_grid(self, runs: list[RunSpec]) -> tuple[int, int]:
        """Enqueue the runs no trial holds yet; returns (new, already there)."""
        with self.lock:  # a run whose trials are all void is not held by any: queued again
            trials = self.grid.get_trials(deepcopy=False)
            ids = {t.user_attrs.get(Attr.RUN_ID) for t in trials}
            runs = [as_recorded(r, ids) for r in runs]  # ids from before 17.6 stay theirs
            known = {t.user_attrs.get(Attr.RUN_ID) for t in trials if not is_void(t)}
            new = [r for r in runs if r.run_id not in known]
            for run in new:
                self.grid.add_trial(waiting_trial(run, attempt=1))
        return len(new), len(runs) - len(new)

    def heal(self, runs: list[RunSpec]) -> list[str]:
        """Queue again every run that has trials but only void ones (a worker killed between
        two writes, before they were ordered): the grid's ``runs`` with their current spec,
        a search's with its proposed parameters while the search's budget has room. A run of
        an older protocol is not healed (its current-version run is queued). Returns the ids."""
        out = []
        with self.lock:
            grid = {r.run_id: r for r in runs}
            for run_id in orphans(self.grid):
                if run_id in grid:
                    self.grid.add_trial(waiting_trial(grid[run_id], attempt=1))
                    out.append(run_id)
            for _, study in self.searches:
                lost = orphans(study)
                room = (self.spec.search.trials if self.spec.search else 0) - len(counted(study))
                for run_id, t in list(lost.items())[: max(room, 0)]:
                    spec = RunSpec.from_record(json.loads(t.user_attrs[Attr.SPEC]))
                    study.add_trial(waiting_trial(spec, 1, t))
                    out.append(run_id)
        return out

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
                    if take(self.storage, trial_id):  # claimed: no worker starts it meanwhile
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
            # the first few waiting trials; when other workers took them all meanwhile, the
            # next few (a trial taken is RUNNING, so each round lists others)
            while batch := waiting(self.storage, self.study_id(study), CANDIDATES):
                for trial_id, number in batch:
                    if take(self.storage, trial_id):
                        attrs = self.storage.get_trial(trial_id).user_attrs
                        return self._claimed(study, trial_id, number, attrs)
        for sc, study in self.searches:
            claim = self._propose(sc, study)
            if claim:
                return claim
        return None

    def _stamp(self, trial_id: int) -> None:
        """Who holds the claim and where (host:pid, node, Slurm job). Until the first stamp
        the trial's start time stands for its heartbeat, so no heartbeat write is needed."""
        self.storage.set_trial_user_attr(trial_id, Attr.WORKER, owner())
        for key, value in where().items():
            self.storage.set_trial_user_attr(trial_id, key, value)

    def _claimed(self, study, trial_id: int, number: int, attrs: dict[str, Any]) -> Lease:
        self._stamp(trial_id)
        spec = RunSpec.from_record(json.loads(attrs[Attr.SPEC]))
        return Lease(study, trial_id, number, spec, attrs.get(Attr.ATTEMPT, 1))

    def _propose(self, sc: SearchCell, study: optuna.Study) -> Lease | None:
        assert self.spec.search is not None
        budget = self.spec.search.trials
        if len(counted(study)) >= budget:
            return None
        trial = study.ask(search_space(self.spec, sc))
        trial_id = self.trial_id(study, trial.number)
        self._stamp(trial_id)  # a worker killed from here on is seen as dead at once
        if places_before(study, trial.number) >= budget:  # another worker took the last place
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
        for key, value in attrs.items():  # SPEC last but one: the run exists once it is set
            self.storage.set_trial_user_attr(trial_id, key, value)
        return Lease(study, trial_id, trial.number, spec, 1)

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
        self._give_back(claim, reason, claim.attempt)

    def retry(self, claim: Lease, reason: str) -> None:
        """Give the run back after an error: the next try counts as another attempt."""
        self._give_back(claim, reason, claim.attempt + 1)

    def _give_back(self, claim: Lease, reason: str, attempt: int) -> None:
        """The run's new WAITING trial first, then the claim's end: a kill in between leaves
        a duplicate, never a gap. If another process ended the claim first and it holds the
        result, the new trial is withdrawn again (a kill before that: a harmless duplicate)."""
        new = self.requeue(claim, attempt)
        if self._void(claim.study, claim.trial_id, claim.number, reason):
            return
        done = self.storage.get_trial(claim.trial_id).state == TrialState.COMPLETE
        if done and take(self.storage, new):
            self._void(
                claim.study, new, -1, f"{Gave.DUPLICATE}: the run's result is recorded already"
            )

    def discard(self, claim: Lease, reason: str) -> None:
        """End a claim that stands for nothing (its run is trained or recorded elsewhere)."""
        self._void(claim.study, claim.trial_id, claim.number, reason)

    def requeue(self, claim: Lease, attempt: int) -> int:
        """Queue the claim's run again as a new WAITING trial with the same parameters (one
        write); returns the new trial's id."""
        frozen = self.storage.get_trial(claim.trial_id)
        template = waiting_trial(claim.spec, attempt, frozen)
        return self.storage.create_new_trial(self.study_id(claim.study), template_trial=template)

    def _void(self, study: optuna.Study, trial_id: int, number: int, reason: str) -> bool:
        """Mark a trial as standing for nothing; False if another process ended it first
        (a trial that ends COMPLETE counts even with the reason set: trials.is_void)."""
        try:
            self.storage.set_trial_user_attr(trial_id, Attr.VOID, reason)
            return self.storage.set_trial_state_values(trial_id, TrialState.FAIL)
        except (optuna.exceptions.UpdateFinishedTrialError, KeyError, RuntimeError, ValueError):
            return False

    def recorded(self, claim: Lease) -> bool:
        """Whether another trial already holds this run's result."""
        return any(
            t.user_attrs.get(Attr.RUN_ID) == claim.spec.run_id and t.number != claim.number
            for t in claim.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        )

    def reclaim_stale(self) -> int:
        """Claims of dead workers go back to the queue (see ``stale``); returns how many."""
        host, now, n = socket.gethostname(), time.time(), 0
        running = [
            (study, t) for study in self.studies() for t in self.in_state(study, TrialState.RUNNING)
        ]
        jobs = {t.user_attrs.get(Attr.SLURM_JOB) for _, t in running} - {None}
        if jobs:
            self.slurm.states(jobs)  # one squeue call for them all (cached a few seconds)
        for study, t in running:
            why = stale(t, host, now, self.grace, self.slurm.gone)
            if why is None:
                continue
            trial_id = self.trial_id(study, t.number)
            if Attr.VOID in t.user_attrs:  # its voider was killed mid-way: finish the void
                self._void(study, trial_id, t.number, t.user_attrs[Attr.VOID])
            elif Attr.SPEC not in t.user_attrs:  # died while proposing it
                self._void(study, trial_id, t.number, "proposal lost")
            else:
                spec = RunSpec.from_record(json.loads(t.user_attrs[Attr.SPEC]))
                attempt = t.user_attrs.get(Attr.ATTEMPT, 1)
                claim = Lease(study, trial_id, t.number, spec, attempt)
                self.release(claim, f"{Gave.LOST} {t.user_attrs.get(Attr.WORKER, '?')} lost: {why}")
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


def stale(t: optuna.trial.FrozenTrial, host: str, now: float, grace: float, gone) -> str | None:
    """Why a RUNNING trial's worker is dead, or None while it may live: on this host when its
    process is gone; under Slurm at once when its job is no longer running (``gone(job)``
    says why, or None when alive or unknown); anywhere when its heartbeat is older than
    ``grace`` seconds."""
    who = t.user_attrs.get(Attr.WORKER, "")
    w_host, _, pid = who.rpartition(":")
    if w_host == host and pid.isdigit() and not alive(int(pid)):
        return f"process {pid} is gone"
    job = t.user_attrs.get(Attr.SLURM_JOB)
    why = gone(job) if job else None
    if why:
        return why
    # A claim is stamped a moment after it is taken: until then its start time stands for
    # its heartbeat, so a fresh claim is never taken for a dead one.
    started = t.datetime_start.timestamp() if t.datetime_start else now
    beat = t.user_attrs.get(Attr.HEARTBEAT, started)
    if now - beat > grace:
        return f"no heartbeat for {now - beat:.0f} s"
    return None


def orphans(study: optuna.Study) -> dict[str, optuna.trial.FrozenTrial]:
    """The runs of ``study`` whose trials are all void, each with its latest trial."""
    live, last = set(), {}
    for t in study.get_trials(deepcopy=False):
        run_id = t.user_attrs.get(Attr.RUN_ID)
        if run_id is None or Attr.SPEC not in t.user_attrs:
            continue
        if is_void(t):
            last[run_id] = t
        else:
            live.add(run_id)
    return {run_id: t for run_id, t in last.items() if run_id not in live}


def places_before(study: optuna.Study, number: int) -> int:
    """How many of the search's budget places are taken before trial ``number``: its live runs
    (and proposals in flight) that began earlier, each at its first trial, so a run queued
    again under a later number keeps its place instead of freeing one for a proposal."""
    first: dict[Any, int] = {}
    live = set()
    for t in study.get_trials(deepcopy=False):
        key = t.user_attrs.get(Attr.RUN_ID, ("trial", t.number))
        first[key] = min(first.get(key, t.number), t.number)
        if not is_void(t):
            live.add(key)
    return sum(first[key] < number for key in live)
