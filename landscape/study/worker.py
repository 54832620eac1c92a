"""A worker: claims runs from the queue, trains and evaluates each, records the outcome.

Any number of workers, on any number of machines, can share one storage. A run is trained by
one worker at a time (the claim, and a lock file beside the run folder); a finished run folder
is never trained again; a run that raises is retried ``max_retries`` times, then recorded as
failed with its error; a diverged run is a result.
"""

from __future__ import annotations

import json
import math
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import optuna
from filelock import FileLock, Timeout
from optuna.trial import TrialState

from landscape.data import ImageData, load
from landscape.metrics import InceptionWeightsMissing as EnvironmentProblem
from landscape.metrics import best_evaluation, run_score
from landscape.study.queue import Claim, Queue, void
from landscape.study.spec import StudySpec
from landscape.train import RunSpec, pick_device, train
from landscape.train.records import RunFolder, read_jsonl

HEARTBEAT_EVERY = 30.0


class WorkerCannotRun(RuntimeError):
    """This machine cannot train the study's runs (missing data set or extractor weights)."""


class Worker:
    def __init__(
        self,
        study: StudySpec,
        results: Path,
        storage_url: str,
        *,
        device: str | None = None,
        max_retries: int = 2,
        progress: bool = False,
    ) -> None:
        self.study, self.results = study, results
        self.queue = Queue(study, storage_url, results)
        self.device, self.max_retries, self.progress = device, max_retries, progress
        self._data: dict[str, ImageData] = {}
        self._evaluators: dict[str, Any] = {}

    def run(self, max_runs: int | None = None) -> int:
        """Train runs until the queue is empty (or ``max_runs``); returns how many were taken."""
        taken = 0
        while max_runs is None or taken < max_runs:
            claim = self.queue.claim()
            if claim is None:
                break
            outcome = self.train_claim(claim)
            taken += outcome != "duplicate"
            if outcome == "interrupted":
                break
        return taken

    def train_claim(self, claim: Claim) -> str:
        spec = claim.spec
        locks = self.results / "runs" / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(locks / f"{spec.run_id}.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            void(claim.study, claim.trial, "duplicate: another worker is training this run")
            return "duplicate"
        if self.queue.recorded(claim):
            lock.release()
            void(claim.study, claim.trial, "duplicate: the run's result is recorded already")
            return "duplicate"
        try:  # what the machine lacks is not the run's fault: give the run back and stop
            evaluate, data = self.evaluator(spec), self.data(spec)
        except (EnvironmentProblem, FileNotFoundError) as error:
            lock.release()
            self.queue.retry(claim, f"worker could not start it: {error}", count_attempt=False)
            raise WorkerCannotRun(str(error)) from error
        beat = _Heartbeat(claim)
        try:
            result = train(
                spec,
                self.results / "runs" / spec.run_id,
                device=self.device,
                evaluate=evaluate,
                data=data,
                data_root=self.study.data_root,
                checkpoint_every=self.study.checkpoint_every,
                log_every=self.study.log_every,
                progress=self.progress,
            )
        except Exception as error:  # the run's failure, not the worker's: record it, go on
            self.failed(claim, error)
            return "failed"
        finally:
            beat.stop()
            lock.release()
        if result.status == "interrupted":
            self.queue.retry(claim, "interrupted; resumes from its checkpoint", count_attempt=False)
            return result.status
        try:
            self.record(claim, result.status, result.diverged_at)
        except optuna.exceptions.UpdateFinishedTrialError:
            # Another worker took this claim for a lost one. The run folder holds the result:
            # queue it again, and whoever takes it records it without training.
            self.queue.requeue(claim, claim.attempt)
        return result.status

    def record(self, claim: Claim, status: str, diverged_at: int | None) -> None:
        evals = read_jsonl(self.results / "runs" / claim.spec.run_id / "evals.jsonl")
        for e in evals:
            if isinstance(e.get("fid"), float | int) and math.isfinite(e["fid"]):
                claim.trial.report(float(e["fid"]), e["step"])
        best = best_evaluation(evals)
        attrs = {
            "status": status,
            "diverged_at": diverged_at,
            "best_step": best["step"] if best else None,
        }
        for key in ("is_mean", "kid_mean"):
            attrs[key] = best.get(key) if best else None
        for key, value in attrs.items():
            claim.trial.set_user_attr(key, value)
        # A diverged run is a bad result, not a missing one (PAPER.md 7): it keeps its best FID.
        claim.study.tell(claim.trial, run_score(evals))

    def failed(self, claim: Claim, error: Exception) -> None:
        message = "".join(traceback.format_exception_only(error)).strip()
        if claim.attempt <= self.max_retries:
            self.queue.retry(
                claim, f"attempt {claim.attempt} raised: {message}", count_attempt=True
            )
            return
        folder = RunFolder(self.results / "runs" / claim.spec.run_id)
        previous = folder.status() or {}
        if folder.path.exists():
            folder.set_status(
                status="failed",
                step=previous.get("step", 0),
                steps=claim.spec.steps,
                diverged_at=None,
                wall_time=previous.get("wall_time", 0.0),
                error=message,
            )
        claim.trial.set_user_attr("status", "failed")
        claim.trial.set_user_attr("error", message)
        claim.study.tell(claim.trial, state=TrialState.FAIL)

    def data(self, spec: RunSpec) -> ImageData:
        key = json.dumps([spec.dataset, spec.data_options], sort_keys=True)
        if key not in self._data:
            self._data[key] = load(
                spec.dataset, "train", root=self.study.data_root, **spec.data_options
            )
        return self._data[key]

    def evaluator(self, spec: RunSpec):
        from landscape.metrics import Evaluator, protocol_of

        protocol = protocol_of(spec)
        if protocol.name not in self._evaluators:
            self._evaluators[protocol.name] = Evaluator(
                protocol, data_root=self.study.data_root, device=pick_device(self.device)
            )
        return self._evaluators[protocol.name]


class _Heartbeat:
    """Tells the storage every HEARTBEAT_EVERY seconds that this claim is alive."""

    def __init__(self, claim: Claim) -> None:
        self.claim, self.done = claim, threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)
        self.thread.start()

    def _beat(self) -> None:
        while not self.done.wait(HEARTBEAT_EVERY):
            try:
                self.claim.trial.set_user_attr("heartbeat", time.time())
            except Exception:  # the trial was ended elsewhere; the run itself decides
                return

    def stop(self) -> None:
        self.done.set()
        self.thread.join()
