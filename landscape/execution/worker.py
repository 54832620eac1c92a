"""A worker: claims runs from the queue, trains and evaluates each, records the outcome.

Any number of workers, on any number of machines, can share one storage. A run is trained by
one worker at a time (the claim, and a lock file beside the run folder); a finished run folder
is never trained again; a run that raises is retried ``max_retries`` times, then recorded as
failed with its error; a diverged run is a result. Once ``stop`` is set (a signal:
execution/signals.py), the run in training checkpoints at its current step, its claim is given
back at once, and no further run is taken.
"""

from __future__ import annotations

import json
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from landscape.data import ImageData, load
from landscape.evaluation import InceptionWeightsMissing as EnvironmentProblem
from landscape.execution.provenance import note_code
from landscape.execution.queue import Attr, Lease, Queue
from landscape.execution.trials import HEARTBEAT_EVERY, Gave
from landscape.execution.where import record as record_place
from landscape.records import (
    LOCKS_DIR,
    RUNS_DIR,
    RunFiles,
    Status,
    best_evaluation,
    is_score,
    run_dir,
    run_score,
)
from landscape.study.spec import StudySpec
from landscape.train import RunSpec, pick_device, train
from landscape.train.records import ForeignRunFolder, RunFolder, read_jsonl

NOT_METRICS = {"step", "time", "protocol", "eval_seconds"}  # evaluation bookkeeping
DUPLICATE, RETRIED = "duplicate", "retried"  # train_claim outcomes besides a Status


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
        stop: threading.Event | None = None,
    ) -> None:
        self.study, self.results = study, Path(results).absolute()
        self.stop = stop  # None: the training loop handles SIGTERM / SIGINT itself
        self.queue = Queue(study, storage_url, results)
        self.device, self.max_retries, self.progress = device, max_retries, progress
        self._data: dict[str, ImageData] = {}
        self._evaluators: dict[str, Any] = {}

    def run(self, max_runs: int | None = None) -> int:
        """Train runs until the queue is empty (or ``max_runs``); returns how many were taken."""
        taken = 0
        while (max_runs is None or taken < max_runs) and not self.stopping():
            claim = self.queue.claim()
            if claim is None:
                break
            outcome = self.train_claim(claim)
            taken += outcome != DUPLICATE
            if outcome == Status.INTERRUPTED:
                break
        return taken

    def train_claim(self, claim: Lease) -> str:
        spec = claim.spec
        locks = self.results / RUNS_DIR / LOCKS_DIR
        locks.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(locks / f"{spec.run_id}.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            self.queue.discard(claim, f"{Gave.DUPLICATE}: another worker is training this run")
            return DUPLICATE
        if self.queue.recorded(claim):
            lock.release()
            self.queue.discard(claim, f"{Gave.DUPLICATE}: the run's result is recorded already")
            return DUPLICATE
        try:  # what the machine lacks is not the run's fault: give the run back and stop
            evaluate, data = self.evaluator(spec), self.data(spec)
        except (EnvironmentProblem, FileNotFoundError) as error:
            lock.release()
            self.queue.release(claim, f"{Gave.CANNOT_START}: {error}")
            raise WorkerCannotRun(str(error)) from error
        except Exception as error:  # the run's own options do not load: its failure, not ours
            lock.release()
            return self.failed(claim, error)
        if self.stopping():  # asked to stop while the data or the extractor loaded
            lock.release()
            self.queue.release(claim, f"{Gave.INTERRUPTED} before it started")
            return Status.INTERRUPTED
        note_code(self.queue, claim, run_dir(self.results, spec.run_id))  # code.json
        beat = _Heartbeat(self.queue, claim, run_dir(self.results, spec.run_id))
        # The lock is held until the claim's end is written, so that a duplicate claimed in
        # between finds the result recorded (it found the lock free and the result missing, and
        # recorded the run a second time); it is let go before a write that queues the run
        # again, whose claimant must be able to take it (finding it held, it would discard it).
        try:
            try:
                folder = run_dir(self.results, spec.run_id)
                record_place(folder, spec.run_id, pick_device(self.device))
                result: Any = train(
                    spec,
                    folder,
                    device=self.device,
                    evaluate=evaluate,
                    data=data,
                    data_root=self.study.data_root,
                    checkpoint_every=self.study.checkpoint_every,
                    log_every=self.study.log_every,
                    progress=self.progress,
                    keep_generators=self.study.keep_generators,
                    stop=self.stop,
                    prune=self.pruning(claim),
                )
            except Exception as error:  # the run's failure, not the worker's: record it, go on
                result = error
            finally:
                beat.stop()
            if isinstance(result, Exception):
                return self.failed(claim, result, unlock=lock.release)
            if result.status == Status.INTERRUPTED:
                lock.release()
                self.queue.release(claim, f"{Gave.INTERRUPTED}; resumes from its checkpoint")
                return result.status
            self.record(claim, result.status, result.diverged_at)
            return result.status
        finally:
            lock.release()

    def stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def pruning(self, claim: Lease):
        """The train loop's hook after each evaluation: report its FID to the queue as it
        happens and stop the run when the search's pruner says so (Queue.should_prune: never a
        grid run, never step 0). A storage hiccup lets the run go on rather than fail it."""

        def prune(step: int, scores: dict[str, Any]) -> bool:
            fid = scores.get("fid")
            try:
                return is_score(fid) and self.queue.should_prune(claim, step, float(fid))
            except Exception as error:  # noqa: BLE001 - the run is worth more than one answer
                print(f"run {claim.spec.run_id}: pruner not asked ({error})", file=sys.stderr)
                return False

        return prune

    def record(self, claim: Lease, status: str, diverged_at: int | None) -> None:
        folder = run_dir(self.results, claim.spec.run_id)
        evals = read_jsonl(folder / RunFiles.EVAL_LOG)
        for e in evals:
            if is_score(e.get("fid")):
                self.queue.progress(claim, e["step"], float(e["fid"]))
        best = best_evaluation(evals)
        scored = [e for e in evals if is_score(e.get("fid"))]
        last_fid = float(scored[-1]["fid"]) if scored else None
        pruned = {Attr.PRUNED_FID: last_fid} if status == Status.PRUNED else {}
        attrs = {
            Attr.STATUS: Status(status),
            Attr.DIVERGED_AT: diverged_at,
            Attr.BEST_STEP: best["step"] if best else None,
            **best_metrics(best),
            **record_compute(claim.spec, folder, len(evals), pruned),
            **pruned,
        }
        if status == Status.PRUNED:
            attrs[Attr.PRUNED_STEP] = attrs[Attr.D_STEPS]
            self.queue.prune(claim, run_score(evals), attrs)
            return
        # A diverged run is a bad result, not a missing one (PAPER.md 7): it keeps its best FID.
        self.queue.complete(claim, run_score(evals), attrs)

    def failed(
        self, claim: Lease, error: Exception, unlock: Callable[[], Any] = lambda: None
    ) -> str:
        """Queue the run again while it has attempts left (after ``unlock``: the run's lock),
        else record it as failed for good."""
        message = "".join(traceback.format_exception_only(error)).strip()
        name = f"run {claim.spec.run_id} ({claim.spec.origin or 'manual'})"
        # A folder holding another run refuses every attempt alike: no retry, and none of its
        # files (status.json included) is touched.
        foreign = isinstance(error, ForeignRunFolder)
        if claim.attempt <= self.max_retries and not foreign:
            print(
                f"{name}: attempt {claim.attempt} of {self.max_retries + 1} failed: "
                f"{message}; queued again",
                file=sys.stderr,
                flush=True,
            )
            unlock()
            self.queue.retry(claim, f"{Gave.RETRIED} {claim.attempt} raised: {message}")
            return RETRIED
        print(
            f"{name} FAILED after {claim.attempt} attempt(s): {message} (`landscape run STUDY "
            f"--retry-failed` queues it again once the cause is fixed)",
            file=sys.stderr,
            flush=True,
        )
        folder = RunFolder(run_dir(self.results, claim.spec.run_id))
        previous = folder.status() or {}
        if folder.path.exists() and not foreign:
            folder.set_status(
                status=Status.FAILED.value,
                step=previous.get("step", 0),
                steps=claim.spec.steps,
                diverged_at=None,
                wall_time=previous.get("wall_time", 0.0),
                error=message,
            )
        self.queue.fail(claim, message)
        return Status.FAILED

    def data(self, spec: RunSpec) -> ImageData:
        key = json.dumps([spec.dataset, spec.data_options], sort_keys=True)
        if key not in self._data:
            self._data[key] = load(
                spec.dataset, "train", root=self.study.data_root, **spec.data_options
            )
        return self._data[key]

    def evaluator(self, spec: RunSpec):
        from landscape.evaluation import Evaluator, protocol_of

        protocol = protocol_of(spec, metrics=self.study.metrics)
        if protocol.name not in self._evaluators:
            self._evaluators[protocol.name] = Evaluator(
                protocol, data_root=self.study.data_root, device=pick_device(self.device)
            )
        return self._evaluators[protocol.name]


def record_compute(
    spec: RunSpec, folder: Path, n_evals: int, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The compute a run used, added to its status.json (with ``extra``: a pruned run's
    ``pruned_fid``) and returned as trial attrs: the D
    steps it trained, its FLOPs (D steps times cost/flops.py's step_flops, which spreads the
    G step over n_disc D steps, plus its evaluations' FLOPs) and the device-seconds of its
    clock (training and evaluations, summed over resumes). FLOPs that cannot be counted
    (an architecture the meta device cannot build) are None, never a guess."""
    from landscape.cost.flops import eval_flops, step_flops

    run = RunFolder(folder)
    status = run.status() or {}
    steps = int(status.get("step", 0))
    try:
        flops = steps * step_flops(spec) + n_evals * eval_flops(spec)
    except Exception as error:  # noqa: BLE001 - the count is a nicety, the result is not
        print(f"run {spec.run_id}: FLOPs not counted ({error})", file=sys.stderr)
        flops = None
    added = {"flops": flops, **{str(k): v for k, v in (extra or {}).items()}}
    if status and any(status.get(k) != v for k, v in added.items()):
        run.set_status(**{**status, **added})
    seconds = float(status.get("wall_time", 0.0))
    return {Attr.D_STEPS: steps, Attr.FLOPS: flops, Attr.DEVICE_SECONDS: seconds}


def best_metrics(best: dict[str, Any] | None) -> dict[str, float]:
    """Every numeric value of the best evaluation but its bookkeeping (step, time, ...): a new
    metric reaches the trial with no edit here. Names that clash with a trial attr are left."""
    if best is None:
        return {}
    return {
        key: value
        for key, value in best.items()
        if key not in NOT_METRICS
        and key not in set(Attr)
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    }


def last_step(log: Path) -> int | None:
    """The step of the last complete line of a train log (None before the first)."""
    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 4096))
            lines = f.read().split(b"\n")[:-1]
        return int(json.loads(lines[-1])["step"]) if lines else None
    except (OSError, ValueError, KeyError):
        return None


class _Heartbeat:
    """Tells the storage every HEARTBEAT_EVERY seconds that this claim is alive, and the last
    step its train log reached."""

    def __init__(self, queue: Queue, claim: Lease, folder: Path) -> None:
        self.queue, self.claim, self.done = queue, claim, threading.Event()
        self.log = folder / RunFiles.TRAIN_LOG
        self.thread = threading.Thread(target=self._beat, daemon=True)
        self.thread.start()

    def _beat(self) -> None:
        while not self.done.wait(HEARTBEAT_EVERY):
            try:
                if not self.queue.heartbeat(self.claim, last_step(self.log)):
                    return  # the trial was ended elsewhere; the run itself decides
            except Exception:  # a storage hiccup: the next beat tries again
                continue

    def stop(self) -> None:
        self.done.set()
        self.thread.join()
