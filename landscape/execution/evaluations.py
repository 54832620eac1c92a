"""Scoring finished runs again (`landscape evaluate`): a metric added after the study, or the
same metrics under another protocol, from the generators the runs kept, never training.

What is scored (``plan``): each finished run (ok or diverged) under the chosen protocol, at
every step whose generator was kept (``keep_generators: every``), else at the step its FID
chose under the protocol it was trained with (``generators/best.pt``; a folder from before
generators were kept falls back to its latest checkpoint when that is the best step, and is
named as not rescorable otherwise). A (run, step) whose record under the protocol already
holds every registered metric is done: running again resumes where it stopped.

Who scores it: workers claim runs through an Optuna study of their own in the study's storage,
``<study>:eval:<protocol key>``, as training workers claim runs (a WAITING trial per run to
score, taken by the one write that makes it RUNNING; a dead worker's claim goes back).
Each score is appended to the run's ``evals.jsonl`` with its protocol: a record of another
protocol is never touched, and a record of the same protocol at the same step supersedes the
earlier one only when read (the file keeps both lines).
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from landscape.execution.queue import HEARTBEAT_GRACE, owner
from landscape.execution.storage import CANDIDATES, open_storage, take, waiting
from landscape.execution.trials import alive
from landscape.metrics import record_columns
from landscape.records import (
    RUNS_DIR,
    SCORED,
    is_score,
    protocol_name,
)
from landscape.train.kept import NotKept, build_generator, every_kept, generator_at
from landscape.train.records import RunFolder, append_jsonl, read_json, read_jsonl
from landscape.train.spec import RunSpec

RUN_ID, WORKER, HEARTBEAT = "run_id", "worker", "heartbeat"  # the eval trials' user attrs


@dataclass(frozen=True)
class Job:
    """One run to score under one protocol: the steps and where each step's G is."""

    spec: RunSpec
    folder: Path
    sources: tuple[tuple[int, Path], ...]


def protocol_key(protocol: dict[str, Any]) -> str:
    """``<name>@<hash of its identity>``: names the claim study of one protocol."""
    identity = {k: v for k, v in protocol.items() if k != "versions"}
    digest = hashlib.sha1(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:8]
    return f"{protocol['name']}@{digest}"


def eval_study_name(study: str, protocol: dict[str, Any]) -> str:
    return f"{study}:eval:{protocol_key(protocol)}"


def generator_sources(folder: RunFolder) -> list[tuple[int, Path]]:
    """(step, file) of the generators to score: every kept step, else the FID-chosen step (the
    best under the run's training protocol). NotKept names what is missing."""
    return every_kept(folder) or [generator_at(folder)]


def done_steps(evals: list[dict], protocol: str, keys: set[str] | None = None) -> set[int]:
    """Steps whose record under ``protocol`` holds every key of the metrics asked for
    (``keys``; None: every registered metric's)."""
    keys = set(record_columns()) if keys is None else keys
    return {r["step"] for r in evals if protocol_name(r) == protocol and keys <= set(r)}


def job_of(
    path: Path,
    protocol_of_run: Callable[[RunSpec], dict[str, Any]],
    keys: set[str] | None = None,
) -> Job | None:
    """What is left to score of the run at ``path`` (None: nothing, or not a finished run);
    NotKept when its generator was not kept."""
    folder = RunFolder(path)
    status, config = folder.status() or {}, read_json(folder.config)
    if config is None or status.get("status") not in SCORED:
        return None
    spec = RunSpec.from_record(config)
    evals = read_jsonl(folder.eval_log)
    try:
        sources = generator_sources(folder)
    except NotKept as error:
        raise NotKept(f"run {spec.run_id}: {error}") from None
    finished = done_steps(evals, protocol_of_run(spec)["name"], keys)
    todo = tuple((s, p) for s, p in sources if s not in finished)
    return Job(spec, Path(path), todo) if todo else None


def plan(
    results: Path,
    protocol_of_run: Callable[[RunSpec], dict[str, Any]],
    keys: set[str] | None = None,
) -> tuple[list[Job], list[str], int]:
    """The jobs still to do, the runs that cannot be scored (one line each), and how many
    finished runs are scored already."""
    jobs, problems, done = [], [], 0
    runs = Path(results) / RUNS_DIR
    for path in sorted(p for p in runs.glob("*") if p.is_dir() and not p.name.startswith(".")):
        try:
            job = job_of(path, protocol_of_run, keys)
        except NotKept as error:
            problems.append(str(error))
            continue
        if job is not None:
            jobs.append(job)
        elif (RunFolder(path).status() or {}).get("status") in SCORED:
            done += 1
    return jobs, problems, done


class EvalQueue:
    """The claim study of one protocol: a WAITING trial per run to score."""

    def __init__(self, storage_url: str, name: str) -> None:
        self.storage = open_storage(storage_url)
        self.study = optuna.create_study(
            study_name=name, storage=self.storage, direction="minimize", load_if_exists=True
        )
        self.study_id = self.storage.get_study_id_from_name(name)

    def add(self, run_ids: list[str]) -> int:
        """A WAITING trial for each run that none waits for or holds; returns how many."""
        self.reclaim_stale()
        taken = {
            t.user_attrs.get(RUN_ID)
            for t in self.study.get_trials(
                deepcopy=False, states=(TrialState.WAITING, TrialState.RUNNING)
            )
        }
        new = [r for r in run_ids if r not in taken]
        for run_id in new:
            self.study.add_trial(
                optuna.trial.create_trial(state=TrialState.WAITING, user_attrs={RUN_ID: run_id})
            )
        return len(new)

    def claim(self) -> tuple[int, int, str] | None:
        """(trial id, number, run_id) of a run to score, now held by this process."""
        while batch := waiting(self.storage, self.study_id, CANDIDATES):  # as Queue.claim
            for trial_id, number in batch:
                if take(self.storage, trial_id):
                    self.storage.set_trial_user_attr(trial_id, WORKER, owner())
                    self.beat(trial_id)
                    return trial_id, number, self.storage.get_trial(trial_id).user_attrs[RUN_ID]
        return None

    def beat(self, trial_id: int) -> None:
        self.storage.set_trial_user_attr(trial_id, HEARTBEAT, time.time())

    def finish(self, number: int, value: float | None) -> None:
        if value is None:
            self.study.tell(number, state=TrialState.FAIL)
        else:
            self.study.tell(number, value)

    def reclaim_stale(self) -> int:
        """Claims of dead workers (gone on this host, or silent for HEARTBEAT_GRACE) are
        ended; ``add`` then queues their runs again."""
        host, n = socket.gethostname(), 0
        for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            w_host, _, pid = t.user_attrs.get(WORKER, "").rpartition(":")
            started = t.datetime_start.timestamp() if t.datetime_start else time.time()
            beat = t.user_attrs.get(HEARTBEAT, started)
            if (w_host == host and pid.isdigit() and not alive(int(pid))) or (
                time.time() - beat > HEARTBEAT_GRACE
            ):
                try:
                    self.study.tell(t.number, state=TrialState.FAIL)
                    n += 1
                except (RuntimeError, ValueError, optuna.exceptions.UpdateFinishedTrialError):
                    pass
        return n


def score_run(
    job: Job,
    evaluate: Callable,
    data_root: str | Path | None,
    device: Any,
    on_step: Callable[[dict], None] = lambda record: None,
) -> list[dict]:
    """Score each (step, generator file) of ``job`` and append each record to the run's
    evals.jsonl."""
    spec, run = job.spec, RunFolder(job.folder)
    out = []
    for step, path in job.sources:
        G, _ = build_generator(spec, path, data_root=data_root, device=device)
        started = time.monotonic()
        scores = evaluate(G)
        record = {
            "step": step,
            "eval_seconds": round(time.monotonic() - started, 3),
            "rescored_from": path.name,  # scored after training, by `landscape evaluate`
            **scores,
        }
        append_jsonl(run.eval_log, record)
        out.append(record)
        on_step(record)
    return out


def best_fid(records: list[dict]) -> float | None:
    usable = [r["fid"] for r in records if is_score(r.get("fid"))]
    return min(usable) if usable else None
