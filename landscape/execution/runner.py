"""``landscape run``: plan the study, start N worker processes, show progress, write the report.

Workers are separate processes (one per GPU, pinned with CUDA_VISIBLE_DEVICES, when GPUs are
present; CPU processes sharing the cores otherwise) that run ``landscape worker``, so a worker
started by hand on another machine against the same storage is no different.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from landscape.atomic import atomic_write_bytes
from landscape.execution.provenance import retrains, settle
from landscape.execution.queue import DONE, FAILED, PRUNED, Queue, default_storage
from landscape.execution.rebuild import move_journal_aside, requeue_search_runs
from landscape.execution.status import line, read_rows, summarize
from landscape.execution.storage import STORAGE_ENV, from_environment, password_of
from landscape.records import (
    CLAIMS_JSON,
    PROTOCOL_VERSION,
    RUNS_DIR,
    STUDY_COPY,
    next_study_copy,
    study_copies,
)
from landscape.study.claims import claim_record
from landscape.study.plan import expected_runs, grid_runs, targets_frame
from landscape.study.spec import StudySpec

POLL = 1.0  # seconds between looks at the queue and the workers


def results_dir(study: StudySpec, root: str | Path = "results") -> Path:
    return Path(root) / study.name


def record_study_file(study: StudySpec, results: Path) -> None:
    """Keep the study file beside its results; a file that differs from the newest copy is kept
    as a new version, never written over the one earlier runs came from. The claims, resolved
    through ``base:``, go to claims.json, which the report reads."""
    text = study.path.read_bytes()
    copies = study_copies(results)
    if not copies:
        atomic_write_bytes(results / STUDY_COPY, text)
    elif copies[-1].read_bytes() != text:
        target = next_study_copy(results, time.strftime("%Y%m%d-%H%M%S"))
        if not target.exists():
            atomic_write_bytes(target, text)
    claims = [claim_record(c) for c in study.claims]
    atomic_write_bytes(results / CLAIMS_JSON, (json.dumps(claims, indent=2) + "\n").encode())


def worker_command(study: StudySpec, storage: str, results_root: Path) -> list[str]:
    plugins = [arg for p in study.plugins for arg in ("--plugin", p)]
    return [
        sys.executable,
        "-m",
        "landscape.cli",
        *plugins,
        "worker",
        str(study.path),
        # a password stays off command lines (ps shows them): it reaches the worker in
        # $LANDSCAPE_STORAGE instead (Pool._start)
        *([] if password_of(storage) else ["--storage", storage]),
        "--results",
        str(results_root),
    ]


def worker_env(index: int, workers: int) -> dict[str, str]:
    """Worker ``index`` of ``workers``: pinned round-robin to one GPU when there are GPUs (so
    8 workers on 4 GPUs is 2 runs per GPU), else given its share of the CPU cores."""
    env = dict(os.environ, LANDSCAPE_WORKER_INDEX=str(index))
    gpus = visible_gpus()
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = gpus[index % len(gpus)]
    else:  # share the cores instead of every process claiming all of them
        env.setdefault("LANDSCAPE_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    return env


def visible_gpus() -> list[str]:
    """The GPU ids this process may use (respecting its own CUDA_VISIBLE_DEVICES)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d.strip() for d in visible.split(",") if d.strip()]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


MAX_REPLACEMENTS = 3  # per worker slot: a worker that keeps dying is not restarted forever
CANNOT_RUN, USAGE_ERROR = 3, 2  # `landscape worker` exit codes a replacement would repeat


def run_study(
    study: StudySpec,
    *,
    workers: int = 1,
    storage: str | None = None,
    results_root: str | Path = "results",
    report: bool = True,
    retry_failed: bool = False,
    rebuild_queue: bool = False,
    code_changes: str | None = None,
) -> dict[str, int]:
    """Queue the study, start ``workers`` workers, watch them, write the report.
    ``code_changes``: what to do with finished runs whose variant code changed since they were
    trained (provenance.RETRAIN or KEEP); None stops with a ``CodeChanged`` naming them."""
    results_root = Path(results_root).absolute()
    results = results_dir(study, results_root)
    results.mkdir(parents=True, exist_ok=True)
    record_study_file(study, results)
    if study.targets:  # the report prints our scores beside these
        targets_frame(study).to_csv(results / "targets.csv", index=False)
    storage = storage or from_environment() or default_storage(results)
    if rebuild_queue:
        aside = move_journal_aside(storage)
        if aside:
            print(f"the damaged journal is kept as {aside}", flush=True)
    queue = Queue(study, storage, results)
    settle(queue, results, code_changes)  # before anything is queued or trained
    runs = grid_runs(study)
    healed = queue.heal(runs)
    if healed:
        print(
            f"{len(healed)} run(s) had only void trials (a worker was killed while giving "
            f"them back): queued again: {', '.join(healed[:5])}{' ...' if len(healed) > 5 else ''}",
            flush=True,
        )
    new, known = queue.add_grid(runs)
    superseded = queue.supersede_unstarted(results / RUNS_DIR)
    if superseded:
        print(
            f"{superseded} queued run(s) of an older training protocol never started: "
            f"replaced by their protocol-{PROTOCOL_VERSION} runs (docs/results-layout.md)",
            flush=True,
        )
    if rebuild_queue:
        found = requeue_search_runs(study, queue, results)
        print(f"queue rebuilt from {results / RUNS_DIR}: {found} search run(s) found", flush=True)
    if retry_failed:
        again = queue.retry_failed()
        print(f"{len(again)} failed run(s) queued again", flush=True)
    total = expected_runs(study) + retrains(queue)
    print(
        f"study {study.name}: {total} runs ({new} new grid runs queued, {known} already "
        f"known); {workers} worker(s); results in {results}",
        flush=True,
    )
    if workers == 0:
        return dict(queue.counts())
    pool = Pool(study, storage, results_root, workers)
    wanted = {"report": False}
    previous = signal.signal(signal.SIGUSR1, lambda *_: wanted.update(report=True))
    previous_term = signal.signal(signal.SIGTERM, _interrupt)  # like Ctrl-C: stop the workers
    try:
        worker_errors = _watch(queue, pool, total, results, wanted)
    except KeyboardInterrupt:
        pool.stop()
        raise
    finally:
        signal.signal(signal.SIGUSR1, previous)
        signal.signal(signal.SIGTERM, previous_term)
    counts = dict(queue.counts())
    print(f"finished: {progress(queue, total)}", flush=True)
    print_failures(queue)
    if worker_errors:
        counts["worker_errors"] = worker_errors
    if report:
        write_report(results, total)
    return counts


def print_failures(queue: Queue, file=None) -> None:
    failures = queue.failures()
    for run_id, origin, error in failures:
        print(f"  failed: {run_id} ({origin or 'manual'}): {error}", file=file or sys.stdout)
    if failures:
        print(
            "  fix the cause, then `landscape run STUDY --retry-failed` trains them again",
            file=file or sys.stdout,
            flush=True,
        )


class Pool:
    """N worker processes; one that dies unexpectedly (a signal, a crash) is replaced while
    runs are left, at most MAX_REPLACEMENTS times per slot, saying why."""

    def __init__(self, study: StudySpec, storage: str, results_root: Path, n: int) -> None:
        self.command = worker_command(study, storage, results_root)
        self.storage = storage
        self.n = n
        self.procs = [self._start(i) for i in range(n)]
        self.replaced = [0] * n
        self.ended: list[int] = []  # exit codes of workers that ended and were not replaced
        self.seen: set[int] = set()  # pids whose exit was dealt with

    def _start(self, index: int) -> subprocess.Popen:
        # Workers get a session of their own: Ctrl-C reaches this process only, which then
        # asks each worker once (SIGTERM) to checkpoint its run and put it back in the queue.
        env = worker_env(index, self.n)
        if "--storage" not in self.command:
            env[STORAGE_ENV] = self.storage
        return subprocess.Popen(self.command, env=env, start_new_session=True)

    def alive(self) -> bool:
        return any(p.poll() is None for p in self.procs)

    def check(self, runs_left: bool) -> None:
        """Replace each worker that died unexpectedly while runs are left."""
        for i, p in enumerate(self.procs):
            code = p.poll()
            if code is None or code == 0 or p.pid in self.seen:
                continue
            self.seen.add(p.pid)
            why = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
            if code in (CANNOT_RUN, USAGE_ERROR) or not runs_left:
                self.ended.append(code)
                continue
            if self.replaced[i] >= MAX_REPLACEMENTS:
                print(
                    f"worker {i} (pid {p.pid}) {why}; replaced {MAX_REPLACEMENTS} times "
                    f"already, so not again",
                    file=sys.stderr,
                    flush=True,
                )
                self.ended.append(code)
                continue
            self.replaced[i] += 1
            self.procs[i] = self._start(i)
            print(
                f"worker {i} (pid {p.pid}) {why}; its run goes back to the queue; started "
                f"pid {self.procs[i].pid} in its place ({self.replaced[i]} of "
                f"{MAX_REPLACEMENTS})",
                file=sys.stderr,
                flush=True,
            )

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)  # each checkpoints its run and re-queues it
        for p in self.procs:
            p.wait()


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _watch(queue: Queue, pool: Pool, total: int, results: Path, wanted: dict) -> int:
    """A status line every few seconds until every worker has exited."""
    tty, last_print = sys.stderr.isatty(), 0.0
    while True:
        alive = pool.alive()
        counts = queue.counts()
        pool.check(runs_left=counts[DONE] + counts[PRUNED] + counts[FAILED] < total)
        if not alive and not pool.alive():
            break
        time.sleep(POLL)
        text = progress(queue, total)
        if tty:
            print(f"\r{text}\x1b[K", end="", file=sys.stderr, flush=True)
        elif time.monotonic() - last_print > 30:
            print(text, file=sys.stderr, flush=True)
            last_print = time.monotonic()
        if wanted["report"]:
            wanted["report"] = False
            write_report(results, total)
    if tty:
        print(file=sys.stderr)
    bad = pool.ended
    if bad:
        print(
            f"warning: {len(bad)} worker(s) exited with errors {bad}; see their messages above",
            file=sys.stderr,
        )
    return len(bad)


def progress(queue: Queue, total: int) -> str:
    """The progress line: counts, throughput over the last hour and the ETA from it (right
    after a restart and past 24 h: execution/status.py), the best FID so far."""
    return line(summarize(queue.spec.name, read_rows(queue.studies()), total))


def write_report(results: Path, total: int) -> Path | None:
    from landscape.report import write_report as render

    path = render(results, expected_runs=total)
    print(f"report: {path}", flush=True)
    return path
