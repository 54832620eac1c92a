"""Benchmark: the queue at paper scale, without training.

    .venv/bin/python bench/queue.py [--study studies/paper/cifar10_loss.yaml] [--workers 32]
        [--storage journal postgresql] [--runs N]

Queues a paper study (cifar10_loss: 540 grid runs + 12 searches x 120 trials = 1,980 runs;
the searches' sampler is switched to random so the benchmark times the queue, not GP fits),
then starts ``--workers`` simulated workers (forked processes) that claim runs and complete
them at once, as ``landscape worker`` does minus the training. On purpose some give their run
back after an "error" (retry), some fail it for good, and some queue a duplicate of a run
they completed (whoever claims it must find it recorded and discard it). Measured: the time
for a worker to open the storage, claims per second, claim latency p50/p99 by quarter of the
study (as it fills), and the time of ``status``'s counts. Checked: no worker raised, no run
lost (every run of the study done or failed), none recorded twice.

PostgreSQL: a throwaway local server (initdb + pg_ctl on a free port, as
tests/test_study_postgres.py starts it); skipped, saying why, where none can be started.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
import traceback
import zlib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# this file's name is the standard library's `queue`: its folder must not shadow that module
sys.path = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from optuna.trial import TrialState  # noqa: E402

from landscape.execution.queue import Queue, counted, default_storage  # noqa: E402
from landscape.study import expected_runs, load_study  # noqa: E402
from landscape.study.plan import grid_runs  # noqa: E402

RETRY, FAIL, DUPLICATE = 0.04, 0.01, 0.02  # shares of claims that misbehave on purpose


def fate(run_id: str, attempt: int) -> str:
    """What a simulated worker does with a claim, fixed by the run id (so reruns agree)."""
    x = zlib.crc32(run_id.encode()) / 2**32
    if attempt == 1 and x < RETRY:
        return "retry"
    if RETRY <= x < RETRY + FAIL:
        return "fail"
    if RETRY + FAIL <= x < RETRY + FAIL + DUPLICATE:
        return "duplicate"
    return "complete"


def worker(study, url: str, results: Path, out: Path, start: float) -> None:
    t0 = time.monotonic()
    queue = Queue(study, url, results)
    record = {"open": time.monotonic() - t0, "claims": [], "errors": []}
    while True:
        t = time.monotonic()
        try:
            claim = queue.claim()
        except Exception:
            record["errors"].append(traceback.format_exc())
            continue
        latency = time.monotonic() - t
        if claim is None:
            break
        outcome = "duplicate" if queue.recorded(claim) else fate(claim.spec.run_id, claim.attempt)
        try:
            if outcome == "duplicate" and queue.recorded(claim):
                queue.discard(claim, "duplicate: the run's result is recorded already")
                outcome = "discarded"
            elif outcome == "retry":
                queue.retry(claim, "attempt 1 raised: on purpose")
            elif outcome == "fail":
                queue.fail(claim, "on purpose")
            else:
                queue.complete(claim, 1.0, {"fid": 1.0})
                if outcome == "duplicate":  # a second WAITING trial of a recorded run
                    queue.requeue(claim, claim.attempt)
        except Exception:
            record["errors"].append(traceback.format_exc())
        record["claims"].append((t - start, latency, claim.spec.run_id, outcome))
    out.write_text(json.dumps(record))


def measure(study, url: str, results: Path, n_workers: int, log, grid: int | None) -> dict:
    t = time.monotonic()
    queue = Queue(study, url, results)
    runs = grid_runs(study)[:grid]
    queue.add_grid(runs)
    queued = time.monotonic() - t
    start, pids, outs = time.monotonic(), [], []
    for i in range(n_workers):
        out = results / f"worker{i}.json"
        outs.append(out)
        pid = os.fork()
        if pid == 0:
            try:
                worker(study, url, results, out, start)
                os._exit(0)
            except BaseException:
                traceback.print_exc()
                os._exit(1)
        pids.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]
    wall = time.monotonic() - start
    records = [json.loads(o.read_text()) for o in outs if o.exists()]
    claims = sorted(c for r in records for c in r["claims"])
    errors = [e for r in records for e in r["errors"]] + [c for c in codes if c]
    t = time.monotonic()
    counts = Queue(study, url, results).counts()
    status_s = time.monotonic() - t
    # checks: every run of the study done or failed, none recorded twice
    total = expected_runs(study) - len(grid_runs(study)) + len(runs)
    complete = Counter(
        t.user_attrs.get("run_id")
        for s in queue.studies()
        for t in s.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    )
    standing = sum(len(counted(s)) for s in queue.studies())
    lost = total - counts.get("done", 0) - counts.get("failed", 0)
    quarters = []
    for q in range(4):
        part = claims[q * len(claims) // 4 : (q + 1) * len(claims) // 4]
        lat = sorted(c[1] for c in part)
        quarters.append(
            (
                1000 * lat[len(lat) // 2] if lat else float("nan"),
                1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else float("nan"),
            )
        )
    result = {
        "runs": total,
        "workers": n_workers,
        "queue_s": queued,
        "wall_s": wall,
        "claims": len(claims),
        "claims_per_s": len(claims) / wall,
        "outcomes": dict(Counter(c[3] for c in claims)),
        "latency_ms_by_quarter": quarters,
        "open_s_p50": statistics.median(r["open"] for r in records),
        "open_s_max": max(r["open"] for r in records),
        "status_s": status_s,
        "errors": len(errors),
        "lost": lost,
        "standing": standing,
        "recorded_twice": sum(n > 1 for n in complete.values()),
        "counts": dict(counts),
    }
    for e in errors[:3]:
        log(f"  error: {e}")
    return result


def postgres_url(root: Path, log):
    import test_study_postgres as pg

    initdb, pg_ctl = pg._binary("initdb"), pg._binary("pg_ctl")
    if not (initdb and pg_ctl):
        log("PostgreSQL skipped: initdb/pg_ctl not found (apt-get install postgresql)")
        return None, None
    import shutil
    import subprocess

    as_postgres = []
    if os.geteuid() == 0:
        as_postgres = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    port, data = pg._free_port(), root / "data"
    subprocess.run([*as_postgres, initdb, "-D", str(data), "-U", "landscape", "--auth=trust"],
                   check=True, capture_output=True)  # fmt: skip
    options = f"-p {port} -h 127.0.0.1 -k {root} -c max_connections=200"
    subprocess.run([*as_postgres, pg_ctl, "-D", str(data), "-l", str(root / "log"), "-w", "-o",
                    options, "start"], check=True, capture_output=True, timeout=60)  # fmt: skip

    def stop():
        subprocess.run([*as_postgres, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)

    return f"postgresql+psycopg://landscape@127.0.0.1:{port}/postgres", stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--study", default=str(ROOT / "studies/paper/cifar10_loss.yaml"))
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--storage", nargs="+", default=["journal", "postgresql"])
    parser.add_argument("--trials", type=int, help="search trials per cell (default: the study's)")
    parser.add_argument("--grid-runs", type=int, help="queue only the first N grid runs")
    args = parser.parse_args()
    study = load_study(args.study)
    search = dataclasses.replace(study.search, sampler="random")
    if args.trials:
        search = dataclasses.replace(search, trials=args.trials)
    study = dataclasses.replace(study, search=search)

    def log(text):
        print(text, file=sys.stderr, flush=True)

    for kind in args.storage:
        with tempfile.TemporaryDirectory(prefix="bench-queue-") as tmp:
            results, stop = Path(tmp) / "results", None
            results.mkdir()
            if kind == "journal":
                url = default_storage(results)
            else:
                pg_root = Path(tempfile.mkdtemp(prefix="bench-queue-pg-"))  # postgres enters it
                url, stop = postgres_url(pg_root, log)
                if url is None:
                    continue
            try:
                result = measure(study, url, results, args.workers, log, args.grid_runs)
            finally:
                if stop:
                    stop()
        print(json.dumps({"storage": kind, **result}), flush=True)


if __name__ == "__main__":
    main()
