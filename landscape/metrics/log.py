"""A run's score from its evaluation log (``runs/<run_id>/evals.jsonl``, written by the
training loop): the evaluation with the minimum FID, step 0 included (PAPER.md 7). Diverged
evaluations (31337.0) and non-finite values do not count; all records must share a protocol.
"""

from __future__ import annotations

import math

from landscape.metrics.evaluate import EVAL_DIVERGED
from landscape.metrics.protocol import assert_one_protocol


def best_evaluation(records: list[dict]) -> dict | None:
    """The record with the lowest finite FID (the earliest on ties); None if there is none."""
    if any("protocol" in r for r in records):
        assert_one_protocol([r for r in records if "protocol" in r])
    finite = [
        r
        for r in records
        if isinstance(r.get("fid"), int | float)
        and math.isfinite(r["fid"])
        and r["fid"] != EVAL_DIVERGED
    ]
    return min(finite, key=lambda r: r["fid"]) if finite else None


def run_score(records: list[dict]) -> float:
    """The run's score: its best FID, or 31337.0 when no evaluation had a finite one."""
    best = best_evaluation(records)
    return float(best["fid"]) if best else EVAL_DIVERGED
