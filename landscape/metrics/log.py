"""The run's evaluation log (``runs/<run_id>/evals.jsonl``) and the training loop's hook.

One JSON line per evaluation, appended and fsynced, never rewritten (docs/results-layout.md).
The run's score is the minimum FID over all its evaluations, step 0 included (PAPER.md 7);
a diverged evaluation records 31337.0 and so only wins when every evaluation diverged.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from landscape.metrics.evaluate import Evaluator
from landscape.metrics.protocol import assert_one_protocol
from landscape.variants.architectures.base import Generator

EVALS_FILE = "evals.jsonl"


def append_evaluation(path: str | Path, record: dict) -> None:
    """Append ``record`` as one JSON line to ``path`` and fsync it."""
    line = json.dumps(record, sort_keys=False, allow_nan=False) + "\n"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def read_evaluations(path: str | Path) -> list[dict]:
    """Every record of an evaluation log (none if the file does not exist yet). A torn last
    line (a crash mid-write) is skipped, never fatal."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def run_score(records: list[dict]) -> float:
    """The minimum FID over a run's evaluations, all under one protocol (PAPER.md 7)."""
    if not records:
        raise ValueError("the run has no evaluations yet")
    assert_one_protocol(records)
    return min(float(r["fid"]) for r in records)


class EvaluationHook:
    """What the training loop calls at each evaluation step: ``hook(step, G)`` scores ``G``
    and appends ``{"step", <scores>, "eval_seconds", "protocol"}`` to ``run_dir/evals.jsonl``.

    The evaluator (and so the feature extractor) is built when the hook is, before the loop
    writes anything: a missing Inception file fails here and leaves the records untouched.
    """

    def __init__(self, run_dir: str | Path, evaluator: Evaluator) -> None:
        self.path = Path(run_dir) / EVALS_FILE
        self.evaluator = evaluator

    def __call__(self, step: int, G: Generator, **extra: float) -> dict:
        """Evaluate ``G`` at ``step``; ``extra`` (e.g. ``time=`` training seconds) is recorded
        too. Returns the record that was appended."""
        start = time.perf_counter()
        scores = self.evaluator(G)
        record = {
            "step": int(step),
            **{k: v for k, v in scores.items() if k != "protocol"},
            **extra,
            "eval_seconds": round(time.perf_counter() - start, 3),
            "protocol": scores["protocol"],
        }
        append_evaluation(self.path, record)
        return record

    def score(self) -> float:
        """The run's score so far: the minimum FID over the log."""
        return run_score(read_evaluations(self.path))
