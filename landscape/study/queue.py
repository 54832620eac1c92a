"""The system of record: an Optuna storage holding one trial per run.

The grid is one Optuna study (named after the study) whose runs wait as WAITING trials; each
search cell is an Optuna study of its own whose sampler proposes trials as results arrive.
A worker claims a WAITING trial by moving it to RUNNING (atomic in every Optuna storage), or
asks a search study for a new trial while its budget lasts. Trials that stand for nothing
(a retry's predecessor, a lost worker's claim, a proposal over budget) carry the user attr
``void`` and are never counted.
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
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, Trial, TrialState

from landscape.study.plan import SearchCell, cells, search_cells, search_run, search_space
from landscape.study.spec import AXES, StudySpec
from landscape.train import RunSpec

optuna.logging.set_verbosity(optuna.logging.WARNING)

HEARTBEAT_GRACE = 600.0  # seconds without a heartbeat before another host's claim is stale


def default_storage(results: Path) -> str:
    return f"journal:{results / 'optuna.journal'}"


def open_storage(url: str) -> optuna.storages.BaseStorage | str:
    """``journal:PATH`` (the default, no server) or any Optuna storage URL (postgresql://...)."""
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path = Path(url.removeprefix("journal:"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    # Workers started together (a Slurm array) race to create the schema in an empty
    # database; the losers see "already exists" errors. A moment later the schema is there.
    for attempt in range(5):
        try:
            return optuna.storages.RDBStorage(url, heartbeat_interval=None)
        except Exception as error:  # sqlalchemy's IntegrityError / ProgrammingError
            message = str(error).lower()
            if attempt == 4 or not ("already exists" in message or "duplicate" in message):
                raise
            time.sleep(0.5 + attempt)
    raise AssertionError("unreachable")


def make_sampler(study: StudySpec, sc: SearchCell) -> optuna.samplers.BaseSampler:
    assert study.search is not None
    # Each cell its own stream, and each worker its own: workers that share a seed propose the
    # same settings when they ask at the same time. One worker alone is reproducible.
    salt = int(os.environ.get("LANDSCAPE_WORKER_INDEX", os.getpid()))
    seed = (study.search.seed + sum(map(ord, sc.key)) + 7919 * salt) % 2**31
    name, startup = study.search.sampler, study.search.startup_trials
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)
    if name == "tpe":  # constant liar: running trials count as bad, so workers spread out
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, constant_liar=True)
    return optuna.samplers.RandomSampler(seed=seed)


@dataclass
class Claim:
    study: optuna.Study
    trial: Trial
    spec: RunSpec
    attempt: int


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Queue:
    def __init__(self, study: StudySpec, storage_url: str, lock_dir: Path) -> None:
        self.spec, self.url = study, storage_url
        self.storage = open_storage(storage_url)
        self.lock = FileLock(str(lock_dir / ".queue.lock"))
        lock_dir.mkdir(parents=True, exist_ok=True)
        self.grid = self._study(study.name, None)
        self.searches = [
            (sc, self._study(f"{study.name}:search:{sc.key}", sc)) for sc in search_cells(study)
        ]

    def _study(self, name: str, sc: SearchCell | None) -> optuna.Study:
        sampler = make_sampler(self.spec, sc) if sc else optuna.samplers.RandomSampler()
        return optuna.create_study(
            study_name=name,
            storage=self.storage,
            sampler=sampler,
            direction="minimize",
            load_if_exists=True,
        )

    def studies(self) -> list[optuna.Study]:
        return [self.grid] + [s for _, s in self.searches]

    # -- planning ---------------------------------------------------------------------------
    def add_grid(self, runs: list[RunSpec]) -> tuple[int, int]:
        """Enqueue the runs no trial holds yet; returns (new, already there)."""
        with self.lock:
            known = {t.user_attrs.get("run_id") for t in self.grid.get_trials(deepcopy=False)}
            new = [r for r in runs if r.run_id not in known]
            for run in new:
                self.grid.add_trial(waiting_trial(run, attempt=1))
        return len(new), len(runs) - len(new)

    # -- claiming ---------------------------------------------------------------------------
    def claim(self) -> Claim | None:
        """The next run to train: a waiting one, else a new search proposal, else None."""
        self.reclaim_stale()
        for study in self.studies():
            for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
                if self.storage.set_trial_state_values(t._trial_id, TrialState.RUNNING):
                    return self._claimed(study, Trial(study, t._trial_id), t.user_attrs)
        for sc, study in self.searches:
            claim = self._propose(sc, study)
            if claim:
                return claim
        return None

    def _claimed(self, study: optuna.Study, trial: Trial, attrs: dict[str, Any]) -> Claim:
        trial.set_user_attr("worker", owner())
        trial.set_user_attr("heartbeat", time.time())
        spec = RunSpec.from_dict(json.loads(attrs["spec"]))
        return Claim(study, trial, spec, attrs.get("attempt", 1))

    def _propose(self, sc: SearchCell, study: optuna.Study) -> Claim | None:
        assert self.spec.search is not None
        budget = self.spec.search.trials
        if len(counted(study)) >= budget:
            return None
        trial = study.ask(search_space(self.spec, sc))
        earlier = [t for t in counted(study) if t.number < trial.number]
        if len(earlier) >= budget:  # another worker took the last place first
            void(study, trial, "over budget")
            return None
        params = dict(trial.params)
        if sc.cell is None and tuple(params[a] for a in AXES) not in set(cells(self.spec)):
            void(study, trial, "excluded cell proposed")
            return None
        spec = search_run(self.spec, sc, params, trial.number)
        trial.set_user_attr("run_id", spec.run_id)
        trial.set_user_attr("spec", json.dumps(spec.to_dict()))
        trial.set_user_attr("origin", spec.origin)
        trial.set_user_attr("attempt", 1)
        return self._claimed(study, trial, {"spec": json.dumps(spec.to_dict())})

    # -- finishing --------------------------------------------------------------------------
    def retry(self, claim: Claim, reason: str, *, count_attempt: bool) -> None:
        """End this trial as void and queue the same run again (it resumes its checkpoint)."""
        if void(claim.study, claim.trial, reason):
            self.requeue(claim, claim.attempt + 1 if count_attempt else claim.attempt)

    def requeue(self, claim: Claim, attempt: int) -> None:
        """Queue the claim's run again as a new WAITING trial with the same parameters."""
        frozen = claim.study._storage.get_trial(claim.trial._trial_id)
        claim.study.add_trial(waiting_trial(claim.spec, attempt, frozen))

    def recorded(self, claim: Claim) -> bool:
        """Whether another trial already holds this run's result."""
        return any(
            t.state == TrialState.COMPLETE and t.user_attrs.get("run_id") == claim.spec.run_id
            for t in counted(claim.study)
        )

    def reclaim_stale(self) -> int:
        """Claims of dead workers go back to the queue: on this host when the process is gone,
        elsewhere when its heartbeat is older than HEARTBEAT_GRACE."""
        host, n = socket.gethostname(), 0
        for study in self.studies():
            for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                who = t.user_attrs.get("worker", "")
                # A claim is stamped a moment after it is taken: until then its start time
                # stands for its heartbeat, so a fresh claim is never taken for a dead one.
                started = t.datetime_start.timestamp() if t.datetime_start else time.time()
                beat = t.user_attrs.get("heartbeat", started)
                w_host, _, pid = who.rpartition(":")
                dead = (w_host == host and pid.isdigit() and not _alive(int(pid))) or (
                    time.time() - beat > HEARTBEAT_GRACE
                )
                if dead:
                    spec = RunSpec.from_dict(json.loads(t.user_attrs["spec"]))
                    claim = Claim(
                        study, Trial(study, t._trial_id), spec, t.user_attrs.get("attempt", 1)
                    )
                    self.retry(claim, f"worker {who} lost", count_attempt=False)
                    n += 1
        return n

    def counts(self) -> Counter:
        """Runs by state: done (ok or diverged), failed, running, queued."""
        out: Counter = Counter()
        for study in self.studies():
            for t in counted(study):
                out[
                    {
                        TrialState.COMPLETE: "done",
                        TrialState.FAIL: "failed",
                        TrialState.RUNNING: "running",
                        TrialState.WAITING: "queued",
                    }[t.state]
                ] += 1
        return out

    def run_ids(self, states: tuple[TrialState, ...]) -> set[str]:
        return {
            t.user_attrs.get("run_id")
            for s in self.studies()
            for t in counted(s)
            if t.state in states
        }


def counted(study: optuna.Study) -> list[FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False) if "void" not in t.user_attrs]


def void(study: optuna.Study, trial: Trial, reason: str) -> bool:
    """Mark a trial as standing for nothing; False if another process ended it first."""
    try:
        trial.set_user_attr("void", reason)
        study.tell(trial, state=TrialState.FAIL)
        return True
    except (optuna.exceptions.UpdateFinishedTrialError, RuntimeError, ValueError):
        return False


def waiting_trial(spec: RunSpec, attempt: int, frozen: FrozenTrial | None = None):
    """A WAITING trial for ``spec``. Its numbers are params (each a one-point distribution, so
    the dashboard can plot them); its variant names are user attrs, because Optuna's
    categorical params cannot gain choices later, and adding a variant must stay possible."""
    if frozen is not None and frozen.params:  # a retry keeps the proposal's own distributions
        params, dists = dict(frozen.params), dict(frozen.distributions)
    else:
        params = {
            k: v
            for k, v in spec.to_dict().items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        dists = {
            k: IntDistribution(v, v) if isinstance(v, int) else FloatDistribution(v, v)
            for k, v in params.items()
        }
    names = {k: getattr(spec, k) for k in ("dataset", *AXES)}
    attrs = {"run_id": spec.run_id, "origin": spec.origin, "attempt": attempt}
    return optuna.trial.create_trial(
        state=TrialState.WAITING,
        params=params,
        distributions=dists,
        user_attrs={**attrs, "spec": json.dumps(spec.to_dict()), **names},
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours is dead too
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return True
