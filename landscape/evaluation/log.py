"""A run's score from its evaluation log (``runs/<run_id>/evals.jsonl``, written by the
training loop and appended to by ``landscape evaluate``), by the one rule in
``landscape.records`` (PAPER.md 7), within one protocol: the log may hold several.
"""

from __future__ import annotations

from landscape import records
from landscape.evaluation.protocol import assert_one_protocol


def best_evaluation(evals: list[dict], protocol: str | None = None) -> dict | None:
    """``records.best_evaluation`` among the records of ``protocol`` (a protocol name; by
    default the protocol the run was trained with: its first record's). Records of other
    protocols are never compared with them."""
    chosen = records.of_protocol(evals, protocol)
    if any("protocol" in r for r in chosen):
        assert_one_protocol([r for r in chosen if isinstance(r.get("protocol"), dict)] or chosen)
    return records.best_evaluation(chosen, protocol)


def run_score(evals: list[dict], protocol: str | None = None) -> float:
    """The run's score under one protocol: its best FID, or the sentinel when no evaluation
    had a usable one."""
    best = best_evaluation(evals, protocol)
    return float(best["fid"]) if best else records.SENTINEL
