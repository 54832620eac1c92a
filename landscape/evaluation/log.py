"""A run's score from its evaluation log (``runs/<run_id>/evals.jsonl``, written by the
training loop), by the one rule in ``landscape.records`` (PAPER.md 7), after checking that all
records share a protocol.
"""

from __future__ import annotations

from landscape import records
from landscape.evaluation.protocol import assert_one_protocol


def best_evaluation(evals: list[dict]) -> dict | None:
    """``records.best_evaluation``, refusing records of different protocols."""
    if any("protocol" in r for r in evals):
        assert_one_protocol([r for r in evals if "protocol" in r])
    return records.best_evaluation(evals)


def run_score(evals: list[dict]) -> float:
    """The run's score: its best FID, or the sentinel when no evaluation had a usable one."""
    best = best_evaluation(evals)
    return float(best["fid"]) if best else records.SENTINEL
