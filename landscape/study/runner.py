"""``landscape run``: plan the study, start N worker processes, show progress, write the report.

Workers are separate processes (one per GPU, pinned with CUDA_VISIBLE_DEVICES, when GPUs are
present; CPU processes sharing the cores otherwise) that run ``landscape worker``, so a worker
started by hand on another machine against the same storage is no different.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from landscape.atomic import atomic_write_bytes
from landscape.study.plan import expected_runs, grid_runs, targets_frame
from landscape.study.queue import Queue, default_storage
from landscape.study.spec import StudySpec


def results_dir(study: StudySpec, root: str | Path = "results") -> Path:
    return Path(root) / study.name


def record_study_file(study: StudySpec, results: Path) -> None:
    """Keep the study file beside its results; a changed file is kept as a new version, never
    written over the one the earlier runs came from."""
    text = study.path.read_bytes()
    target = results / "study.yaml"
    if target.exists() and target.read_bytes() != text:
        target = results / f"study.{time.strftime('%Y%m%d-%H%M%S')}.yaml"
    if not target.exists():
        atomic_write_bytes(target, text)


def worker_command(study: StudySpec, storage: str, results_root: Path) -> list[str]:
    plugins = [arg for p in study.plugins for arg in ("--plugin", p)]
    return [
        sys.executable,
        "-m",
        "landscape.cli",
        *plugins,
        "worker",
        str(study.path),
        "--storage",
        storage,
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


def run_study(
    study: StudySpec,
    *,
    workers: int = 1,
    storage: str | None = None,
    results_root: str | Path = "results",
    report: bool = True,
) -> dict[str, int]:
    results = results_dir(study, results_root)
    results.mkdir(parents=True, exist_ok=True)
    record_study_file(study, results)
    if study.targets:  # the report prints our scores beside these
        targets_frame(study).to_csv(results / "targets.csv", index=False)
    storage = storage or default_storage(results)
    queue = Queue(study, storage, results)
    new, known = queue.add_grid(grid_runs(study))
    total = expected_runs(study)
    print(
        f"study {study.name}: {total} runs ({new} new grid runs queued, {known} already "
        f"known); {workers} worker(s); results in {results}",
        flush=True,
    )
    if workers == 0:
        return dict(queue.counts())
    # Workers get a session of their own: Ctrl-C reaches this process only, which then asks
    # each worker once (SIGTERM) to checkpoint its run and put it back in the queue.
    procs = [
        subprocess.Popen(
            worker_command(study, storage, Path(results_root)),
            env=worker_env(i, workers),
            start_new_session=True,
        )
        for i in range(workers)
    ]
    wanted = {"report": False}
    previous = signal.signal(signal.SIGUSR1, lambda *_: wanted.update(report=True))
    previous_term = signal.signal(signal.SIGTERM, _interrupt)  # like Ctrl-C: stop the workers
    try:
        worker_errors = _watch(queue, procs, total, results, wanted)
    except KeyboardInterrupt:
        for p in procs:
            p.send_signal(signal.SIGTERM)  # each checkpoints its run and re-queues it
        for p in procs:
            p.wait()
        raise
    finally:
        signal.signal(signal.SIGUSR1, previous)
        signal.signal(signal.SIGTERM, previous_term)
    counts = dict(queue.counts())
    print(f"finished: {_line(counts, total, 0.0)}", flush=True)
    if worker_errors:
        counts["worker_errors"] = worker_errors
    if report:
        write_report(results, total)
    return counts


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _watch(queue: Queue, procs, total: int, results: Path, wanted: dict) -> int:
    """A status line every few seconds until every worker has exited."""
    start, tty = time.monotonic(), sys.stderr.isatty()
    last_print = 0.0
    while any(p.poll() is None for p in procs):
        time.sleep(2.0)
        counts = queue.counts()
        elapsed = time.monotonic() - start
        line = _line(counts, total, elapsed)
        if tty:
            print(f"\r{line}\x1b[K", end="", file=sys.stderr, flush=True)
        elif time.monotonic() - last_print > 30:
            print(line, file=sys.stderr, flush=True)
            last_print = time.monotonic()
        if wanted["report"]:
            wanted["report"] = False
            write_report(results, total)
    if tty:
        print(file=sys.stderr)
    bad = [p.returncode for p in procs if p.returncode not in (0, None)]
    if bad:
        print(
            f"warning: {len(bad)} worker(s) exited with errors {bad}; see their messages above",
            file=sys.stderr,
        )
    return len(bad)


def _line(counts, total: int, elapsed: float) -> str:
    done, failed, running = counts.get("done", 0), counts.get("failed", 0), counts.get("running", 0)
    left = max(total - done - failed - running, 0)
    finished = done + failed
    eta = ""
    if finished and elapsed and left + running:
        seconds = elapsed / finished * (left + running)
        eta = f", ETA {time.strftime('%H:%M:%S', time.gmtime(seconds))}"
    return f"{done} done, {running} running, {failed} failed, {left} left of {total}{eta}"


def write_report(results: Path, total: int) -> Path | None:
    from landscape.report import write_report as render

    path = render(results, expected_runs=total)
    print(f"report: {path}", flush=True)
    return path
