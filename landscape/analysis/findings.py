"""The paper's findings checked on a study: each claim of the study file (landscape/study/claims.py)
compared on matched settings (matched.py), with a verdict.

- **consistent**: the 95% interval of P(better beats than) lies above 1/2 (matched.verdict);
- **contradicted**: it lies below 1/2;
- **undecided**: it contains 1/2, or a side has fewer than MIN_RUNS runs in matched settings.
  When the estimate points one way, ``more`` says roughly how many times as many matched runs
  would make the interval exclude 1/2 if the estimate held (an interval shrinks like one over
  the square root of the runs behind it); a rough guide, not a promise.

A claim with ``or_equal: true`` ("better is at least as good as than", the paper's F1) is
contradicted only when than is clearly better, and consistent otherwise once both sides have
MIN_RUNS runs: no clear difference is what it claims.

The claims come from the study file copied beside the results (``study.yaml``, the newest
version when the file changed), read with yaml.safe_load and validated by
landscape.study.claims.parse_claims against the variant values found in the runs. Torch-free: this
never imports landscape.study. A claim in a ``base:`` file cannot be resolved from the copy:
a resolved ``claims.json`` (the list, as in the YAML) beside the results is read instead when
present.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd
import yaml

from landscape.analysis.comparisons import COMPARISON_COLUMNS, compare_sides
from landscape.analysis.matched import MIN_RUNS, matchable, verdict
from landscape.records import AXES, CLAIMS_JSON, study_copies
from landscape.study.claims import Claim, parse_claims

VERDICTS = {"better better": "consistent", "than better": "contradicted"}
# comparisons.csv's columns, with the claim's id, text and source, its sides named as the claim
# names them, and how many more runs would likely decide it
SIDES = {"runs_a": "runs_better", "runs_b": "runs_than"}
FINDING_COLUMNS = (
    ["protocol", "id", "claim", "source"]
    + [SIDES.get(c, c) for c in COMPARISON_COLUMNS if c not in ("protocol", "axis", "a", "b")]
    + ["more"]
)


def study_copy(root: Path) -> Path | None:
    """The newest copy of the study file in a results folder (records.study_copies)."""
    copies = study_copies(root)
    return copies[-1] if copies else None


def raw_claims(root: Path, problems: list[str]) -> Any:
    """The ``claims:`` list of the study copy (or claims.json), unvalidated; None if none."""
    resolved = root / CLAIMS_JSON
    if resolved.is_file():
        try:
            return json.loads(resolved.read_text())
        except ValueError as err:
            problems.append(f"{resolved}: unreadable ({err}); claims not checked")
            return None
    path = study_copy(root)
    if path is None:
        return None
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        problems.append(f"{path}: not valid YAML ({err}); claims not checked")
        return None
    if not isinstance(data, dict):
        return None
    if "claims" not in data and "base" in data:
        problems.append(
            f"{path}: inherits `base: {data['base']}`, which the results folder does not hold; "
            f"claims written in the base file are not checked until `landscape run STUDY` "
            f"writes {CLAIMS_JSON} (it resolves them)"
        )
    return data.get("claims")


def load_claims(root: Path, runs: pd.DataFrame, problems: list[str]) -> tuple[Claim, ...]:
    """The study's claims, validated against the variant values in ``runs``; a bad claims list
    is reported in ``problems`` (the report still renders)."""
    raw = raw_claims(root, problems)
    if raw is None:
        return ()
    grid = {a: tuple(sorted(runs[a].dropna().astype(str).unique())) for a in AXES if a in runs}

    source = root / CLAIMS_JSON if (root / CLAIMS_JSON).is_file() else study_copy(root)

    def fail(key: str, problem: str) -> NoReturn:
        raise ValueError(f"{source}: {key}: {problem}")

    try:
        return parse_claims(raw, fail, grid)
    except ValueError as err:
        problems.append(f"{err}; claims not checked")
        return ()


def more_needed(row: dict[str, Any]) -> str:
    """Roughly how many more matched runs would likely decide an undecided claim."""
    if min(row["runs_better"], row["runs_than"]) < MIN_RUNS:
        return f"at least {MIN_RUNS} runs per side in matched settings"
    effect = row["p_better"] - 0.5
    if not math.isfinite(effect) or effect == 0:
        return "cannot say: the estimate does not point one way"
    half = (row["p_high"] - row["p_low"]) / 2
    factor = (half / abs(effect)) ** 2
    if factor <= 1:
        return ""
    return f"about {math.ceil(factor * 10) / 10:g}x the matched runs (if the estimate holds)"


def claim_verdict(said: str, row: dict[str, Any], or_equal: bool) -> str:
    """From the comparison's verdict: consistent, contradicted or undecided. A claim of "at least
    as good" is consistent with no clear difference, once both sides have enough runs."""
    if said in VERDICTS:
        return VERDICTS[said]
    if or_equal and min(row["runs_better"], row["runs_than"]) >= MIN_RUNS:
        return "consistent"
    return "undecided"


def check_claims(runs: pd.DataFrame, claims: tuple[Claim, ...], *, resamples: int) -> pd.DataFrame:
    """findings.csv: one row per (protocol, claim)."""
    rows = []
    for protocol, group in matchable(runs).groupby("protocol", sort=True):
        for claim in claims:
            better, than = claim.side("better"), claim.side("than")
            stats = compare_sides(group, better, than, protocol=protocol, resamples=resamples)
            row = {
                "protocol": protocol,
                "id": claim.id,
                "claim": claim.text or claim.label,
                "source": claim.source,
                **stats,
            }
            said = verdict(row, "better", "than")
            row["runs_better"], row["runs_than"] = row.pop("runs_a"), row.pop("runs_b")
            row["verdict"] = claim_verdict(said, row, claim.or_equal)
            row["more"] = more_needed(row) if row["verdict"] == "undecided" else ""
            rows.append(row)
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)
