"""Claims: findings of the paper (PAPER.md 11) that a study checks against its own runs.

Two forms, one meaning. On one axis::

    claims:
      - {id: F2, axis: normalization, better: sn, than: none, source: "3.1, Fig. 2"}

On a combination of axes (a variant against a variant)::

      - id: F6
        better: {penalty: gp, normalization: sn}
        than: {penalty: none, normalization: sn}
        source: "3.2"

``better`` and ``than`` name the same axes. ``or_equal: true`` claims only that ``better`` is at
least as good as ``than`` (the paper's "not better" findings, F1): consistent unless ``than`` is
clearly better. The axes whose values differ are compared; those
with equal values restrict the comparison to runs with that value; every other axis is matched
(runs agree on it). The report compares matched settings of ``better`` and ``than`` and says
whether the study is consistent with the claim, contradicts it, or cannot tell yet.

Torch-free: the study validator and the analysis both import it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from landscape.records import AXES

CLAIM_KEYS = ("id", "axis", "better", "than", "or_equal", "source", "text")


@dataclass(frozen=True)
class Claim:
    id: str
    better: tuple[tuple[str, str], ...]  # ((axis, value), ...) in AXES order
    than: tuple[tuple[str, str], ...]
    source: str = ""
    text: str = ""
    # "better is at least as good as than" (PAPER.md 11 F1: LS and WGAN are "not better" than
    # NS): consistent unless `than` is clearly better; a claim of no difference, not of one.
    or_equal: bool = False

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
    """A claim as a study file would write it (the mapping form): parse_claims reads it back."""
    return {
        "id": claim.id,
        "better": dict(claim.better),
        "than": dict(claim.than),
        "or_equal": claim.or_equal,
        "source": claim.source,
        "text": claim.text,
    }


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
        claim = Claim(
            id=str(raw.get("id") or f"C{i + 1}"),
            better=tuple((a, better[a]) for a in order),
            than=tuple((a, than[a]) for a in order),
            source=str(raw.get("source") or ""),
            text=str(raw.get("text") or ""),
            or_equal=_flag(f"{key}.or_equal", raw.get("or_equal", False), fail),
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
