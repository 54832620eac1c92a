"""The paper's findings checked on a study: each claim of the study file (landscape/study/claims.py)
compared on matched settings (matched.py), with a verdict (claims.Verdict) stated at the
strength of the 95% interval of P(better beats than):

- a claim that better is better: **consistent** when the interval lies above 1/2,
  **contradicted** when it lies below 1/2, **undecided** when it contains 1/2;
- a claim with ``or_equal: true`` ("better is at least as good as than", the paper's F1; a
  non-inferiority claim with the claim's ``margin``, default 0.1): **supported** when the
  interval lies above 1/2 - margin, **contradicted** when it lies below 1/2, **not
  contradicted** in between (no clear difference, but than's being better by more than the
  margin is not ruled out: a weaker statement than support);
- either is **undecided** while a side has fewer than MIN_RUNS runs in matched settings.

For an undecided claim (or a not contradicted one) whose estimate points the right way,
``more`` says roughly how many times as many matched runs would make the interval clear its
threshold (1/2, or 1/2 - margin) if the estimate held (an interval shrinks like one over the
square root of the runs behind it); a rough guide, not a promise.

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

from landscape.analysis.comparisons import COMPARISON_COLUMNS, FAMILY_COLUMNS, compare_sides
from landscape.analysis.matched import MIN_RUNS, matchable
from landscape.records import AXES, CLAIMS_JSON, study_copies
from landscape.study.claims import NON_INFERIORITY_MARGIN, Claim, Verdict, parse_claims

# comparisons.csv's estimates, with the claim's id, text, source and form (or_equal and its
# margin), its sides named as the claim names them, its verdict and how many more runs would
# likely decide it. Not the exploratory table's p-values: a claim is confirmatory, one test.
SIDES = {"runs_a": "runs_better", "runs_b": "runs_than"}
LEFT_OUT = ("protocol", "axis", "a", "b", "verdict", *FAMILY_COLUMNS)
FINDING_COLUMNS = (
    ["protocol", "id", "claim", "source"]
    + [SIDES.get(c, c) for c in COMPARISON_COLUMNS if c not in LEFT_OUT]
    + ["or_equal", "margin", "verdict", "more"]
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


def threshold(or_equal: bool, margin: float = NON_INFERIORITY_MARGIN) -> float:
    """The value P(better wins)'s interval must lie above for the strongest verdict."""
    return 0.5 - margin if or_equal else 0.5


def more_needed(row: dict[str, Any], line: float = 0.5) -> str:
    """Roughly how many more matched runs would likely move the interval clear of ``line``
    (1/2 for an undecided claim, 1/2 - margin for a not contradicted one)."""
    if min(row["runs_better"], row["runs_than"]) < MIN_RUNS:
        return f"at least {MIN_RUNS} runs per side in matched settings"
    effect = row["p_better"] - line
    if line < 0.5 and effect <= 0:
        return f"cannot say: the estimate is not above {line:g} (1/2 - margin)"
    if not math.isfinite(effect) or effect == 0:
        return "cannot say: the estimate does not point one way"
    half = (row["p_high"] - row["p_low"]) / 2
    factor = (half / abs(effect)) ** 2
    if factor <= 1:
        return ""
    return f"about {math.ceil(factor * 10) / 10:g}x the matched runs (if the estimate holds)"


def claim_verdict(
    row: dict[str, Any], *, or_equal: bool, margin: float = NON_INFERIORITY_MARGIN
) -> Verdict:
    """The verdict (module docstring) from the interval [p_low, p_high] of P(better wins)."""
    if min(row["runs_better"], row["runs_than"]) < MIN_RUNS:
        return Verdict.UNDECIDED
    low, high = row["p_low"], row["p_high"]
    if not (math.isfinite(low) and math.isfinite(high)):
        return Verdict.UNDECIDED
    if high < 0.5:
        return Verdict.CONTRADICTED
    if not or_equal:
        return Verdict.CONSISTENT if low > 0.5 else Verdict.UNDECIDED
    return Verdict.SUPPORTED if low > threshold(True, margin) else Verdict.NOT_CONTRADICTED


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
                "or_equal": claim.or_equal,
                "margin": claim.margin if claim.or_equal else math.nan,
            }
            row["runs_better"], row["runs_than"] = row.pop("runs_a"), row.pop("runs_b")
            said = claim_verdict(row, or_equal=claim.or_equal, margin=claim.margin)
            row["verdict"] = str(said)
            line = threshold(claim.or_equal, claim.margin)
            open_ = said in (Verdict.UNDECIDED, Verdict.NOT_CONTRADICTED)
            row["more"] = more_needed(row, line) if open_ else ""
            rows.append(row)
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)
