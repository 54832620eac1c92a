"""Claims: findings of the paper (PAPER.md 11) that a study checks against its own runs.

Two forms, one meaning. On one axis::

    claims:
      - {id: F2, axis: normalization, better: sn, than: none, source: "3.1, Fig. 2"}

On a combination of axes (a variant against a variant)::

      - id: F6
        better: {penalty: gp, normalization: sn}
        than: {penalty: none, normalization: sn}
        source: "3.2"

``better`` and ``than`` name the same axes. The axes whose values differ are compared; those
with equal values restrict the comparison to runs with that value; every other axis is matched
(runs agree on it). The report compares matched settings of ``better`` and ``than`` and states
a verdict (Verdict) from the 95% interval of P(better wins), at the strength that interval
allows:

- a claim that ``better`` is better: **consistent** when the interval lies above 1/2,
  **contradicted** when it lies below 1/2, **undecided** otherwise;
- ``or_equal: true``, a claim that ``better`` is at least as good as ``than`` (the paper's "not
  better" findings, F1: a non-inferiority claim): **supported** when the interval lies above
  1/2 - ``margin`` (default NON_INFERIORITY_MARGIN, 0.1: ``better`` wins at least 40% of
  matched seed pairs, about a third of a standard deviation of a normal shift),
  **contradicted** when it lies below 1/2, **not contradicted** in between (it reaches below
  1/2 - margin: the study cannot rule out that ``than`` is better by more than the margin).

Either form is **undecided** while a side has fewer than matched.MIN_RUNS runs.

Torch-free: the study validator, the analysis and the report all import it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NoReturn

from landscape.records import AXES

CLAIM_KEYS = ("id", "axis", "better", "than", "or_equal", "margin", "source", "text")
# An or_equal claim is supported when P(better wins)'s interval lies above 1/2 minus this
NON_INFERIORITY_MARGIN = 0.1
MARGIN_RANGE = (0.0, 0.5)  # a margin m must have 0 <= m < 0.5 (at 0.5 any interval supports it)


class Verdict(StrEnum):
    """What a study says about a claim: findings.csv's ``verdict`` and the report's legend."""

    CONSISTENT = "consistent"  # better than: the interval lies above 1/2
    SUPPORTED = "supported"  # at least as good: the interval lies above 1/2 - margin
    NOT_CONTRADICTED = "not contradicted"  # at least as good: reaches below 1/2 - margin only
    CONTRADICTED = "contradicted"  # either form: the interval lies below 1/2
    UNDECIDED = "undecided"  # better than: the interval holds 1/2; either: too few runs


STRICT_VERDICTS = (Verdict.CONSISTENT, Verdict.CONTRADICTED, Verdict.UNDECIDED)
OR_EQUAL_VERDICTS = (
    Verdict.SUPPORTED,
    Verdict.NOT_CONTRADICTED,
    Verdict.CONTRADICTED,
    Verdict.UNDECIDED,
)


def verdict_legend(min_runs: int) -> dict[str, list[tuple[str, str]]]:
    """The meaning of each verdict, per form of claim ("A ... B"), as the report prints it."""
    few = f"either side has fewer than {min_runs} runs in matched settings"
    line = f"{0.5 - NON_INFERIORITY_MARGIN:g}"
    return {
        "A better than B": [
            (Verdict.CONSISTENT, "the 95% interval of P(A beats B) lies above ½"),
            (Verdict.CONTRADICTED, "it lies below ½"),
            (Verdict.UNDECIDED, f"it contains ½, or {few}"),
        ],
        "A at least as good as B (or_equal: true)": [
            (
                Verdict.SUPPORTED,
                "the interval lies above ½ − margin (the claim's margin, default "
                f"{NON_INFERIORITY_MARGIN:g}: above {line})",
            ),
            (
                Verdict.NOT_CONTRADICTED,
                "it reaches below ½ − margin but not wholly below ½: no clear difference, "
                "and B being better by more than the margin is not ruled out",
            ),
            (Verdict.CONTRADICTED, "it lies below ½: B is clearly better"),
            (Verdict.UNDECIDED, few),
        ],
    }


@dataclass(frozen=True)
class Claim:
    id: str
    better: tuple[tuple[str, str], ...]  # ((axis, value), ...) in AXES order
    than: tuple[tuple[str, str], ...]
    source: str = ""
    text: str = ""
    # "better is at least as good as than" (PAPER.md 11 F1: LS and WGAN are "not better" than
    # NS): a non-inferiority claim, supported when P(better wins) is clearly above 1/2 - margin
    or_equal: bool = False
    margin: float = NON_INFERIORITY_MARGIN  # on the P scale; used by or_equal claims only

    @property
    def compared(self) -> tuple[str, ...]:
        """The axes whose values differ between the two sides."""
        b, t = dict(self.better), dict(self.than)
        return tuple(a for a in b if b[a] != t[a])

    @property
    def fixed(self) -> dict[str, str]:
        """The axes held at one value on both sides."""
        b, t = dict(self.better), dict(self.than)
        return {a: b[a] for a in b if b[a] == t[a]}

    def side(self, which: str) -> dict[str, str]:
        return dict(self.better if which == "better" else self.than)

    @property
    def label(self) -> str:
        """e.g. ``sn better than none (normalization)``."""
        axes = list(dict(self.better))
        b = "+".join(dict(self.better)[a] for a in axes)
        t = "+".join(dict(self.than)[a] for a in axes)
        relation = "at least as good as" if self.or_equal else "better than"
        return f"{b} {relation} {t} ({'+'.join(axes)})"


def claim_record(claim: Claim) -> dict[str, Any]:
    """A claim as a study file would write it (the mapping form): parse_claims reads it back.
    ``margin`` only for an or_equal claim (a strict claim may not name one)."""
    record: dict[str, Any] = {
        "id": claim.id,
        "better": dict(claim.better),
        "than": dict(claim.than),
        "or_equal": claim.or_equal,
    }
    if claim.or_equal:
        record["margin"] = claim.margin
    return record | {"source": claim.source, "text": claim.text}


def parse_claims(
    value: Any, fail: Callable[[str, str], NoReturn], grid: Mapping[str, tuple[str, ...]]
) -> tuple[Claim, ...]:
    """Validate a study's ``claims:`` list; ``fail(key, problem)`` raises the study's error.

    Every value must be one the study's grid trains, or the claim could never be tested.
    """
    if value is None:
        return ()
    if not isinstance(value, list):
        fail(
            "claims", "expected a list of claims like {axis: normalization, better: sn, than: none}"
        )
    out, seen = [], set()
    for i, raw in enumerate(value):
        key = f"claims[{i}]"
        if not isinstance(raw, dict):
            fail(key, "expected a mapping with better, than and axis (or better/than mappings)")
        unknown = sorted(set(raw) - set(CLAIM_KEYS))
        if unknown:
            fail(f"{key}.{unknown[0]}", f"unknown key; valid keys: {', '.join(CLAIM_KEYS)}")
        better, than = _sides(key, raw, fail)
        for side, values in (("better", better), ("than", than)):
            for axis, name in values.items():
                if axis not in AXES:
                    fail(f"{key}.{side}.{axis}", f"unknown axis; choose from: {', '.join(AXES)}")
                trained = grid.get(axis, ())
                if not isinstance(name, str) or name not in trained:
                    fail(
                        f"{key}.{side}.{axis}",
                        f"{name!r} is not trained by this study's grid; its {axis} values are: "
                        f"{', '.join(trained) or 'none'}",
                    )
        if set(better) != set(than):
            fail(key, "better and than must name the same axes")
        if better == than:
            fail(key, "better and than are the same variant: nothing to compare")
        order = [a for a in AXES if a in better]
        or_equal = _flag(f"{key}.or_equal", raw.get("or_equal", False), fail)
        claim = Claim(
            id=str(raw.get("id") or f"C{i + 1}"),
            better=tuple((a, better[a]) for a in order),
            than=tuple((a, than[a]) for a in order),
            source=str(raw.get("source") or ""),
            text=str(raw.get("text") or ""),
            or_equal=or_equal,
            margin=_margin(f"{key}.margin", raw, or_equal, fail),
        )
        if claim.id in seen:
            fail(f"{key}.id", f"claim id {claim.id!r} is used twice")
        seen.add(claim.id)
        out.append(claim)
    return tuple(out)


def _flag(key: str, value: Any, fail: Callable[[str, str], NoReturn]) -> bool:
    if not isinstance(value, bool):
        fail(key, f"expected true or false, got {value!r}")
    return value


def _margin(key: str, raw: dict, or_equal: bool, fail: Callable[[str, str], NoReturn]) -> float:
    """The non-inferiority margin of an or_equal claim (a number in [0, 0.5))."""
    if "margin" not in raw or raw["margin"] is None:
        return NON_INFERIORITY_MARGIN
    value = raw["margin"]
    if not or_equal:
        fail(
            key,
            "a margin applies only to an `or_equal: true` claim (at least as good); "
            "remove it, or add `or_equal: true`",
        )
    low, high = MARGIN_RANGE
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value < high:
        fail(
            key,
            f"expected a number from {low:g} up to (not including) {high:g} on the scale of "
            f"P(better wins), e.g. {NON_INFERIORITY_MARGIN:g} (the default): supported when the "
            f"interval lies above 1/2 - margin; got {value!r}",
        )
    return float(value)


def _sides(key: str, raw: dict, fail: Callable[[str, str], NoReturn]) -> tuple[dict, dict]:
    if "better" not in raw or "than" not in raw:
        fail(key, "a claim needs both `better` and `than`")
    better, than = raw["better"], raw["than"]
    if "axis" in raw:  # the one-axis form
        if isinstance(better, dict) or isinstance(than, dict):
            fail(key, "with `axis`, better and than are variant names, not mappings")
        return {raw["axis"]: better}, {raw["axis"]: than}
    if not isinstance(better, dict) or not isinstance(than, dict):
        fail(key, "give `axis` with two names, or better/than as {axis: name} mappings")
    return dict(better), dict(than)
