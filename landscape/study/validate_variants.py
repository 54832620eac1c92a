"""``variant_options``: keywords for a loss or a penalty, checked against the variant's own
keyword-only arguments (names and types) so that each reaches its variant."""

from __future__ import annotations

import inspect
from typing import Any

from landscape.study.checks import Checker
from landscape.study.spec import AXES

OPTION_AXES = ("loss", "penalty")


def variant_options(check: Checker, value: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """{axis: {variant: {keyword: value}}}; a penalty's ``weight`` is its default lambda."""
    value = check.keys("variant_options", value, set(OPTION_AXES))
    out: dict[str, dict[str, dict[str, Any]]] = {axis: {} for axis in OPTION_AXES}
    for axis, per_name in value.items():
        per_name = check.keys(f"variant_options.{axis}", per_name, set(AXES[axis]))
        for name, kwargs in per_name.items():
            key = f"variant_options.{axis}.{name}"
            if not isinstance(kwargs, dict):
                check.fail(key, "expected keyword: value pairs")
            out[axis][name] = keywords(check, key, AXES[axis][name], kwargs)
    return out


def keywords(check: Checker, key: str, variant: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Keyword-only arguments the variant declares, of their defaults' types; a penalty's
    weight is a number >= 0."""
    accepted = {
        n: p.default
        for n, p in inspect.signature(variant).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    out = {}  # values as written (an int stays an int: run_ids hash them), text made a number
    for name, value in kwargs.items():
        if name not in accepted:
            check.fail(
                f"{key}.{name}",
                f"not a keyword of this variant; it takes: {', '.join(accepted) or 'none'}",
            )
        if name == "weight":
            checked = check.number(f"{key}.{name}", value, float, 0)
        elif accepted[name] is inspect.Parameter.empty or accepted[name] is None:
            checked = value  # no default to take the type from
        else:
            checked = check.like(f"{key}.{name}", value, accepted[name])
        out[name] = checked if isinstance(value, str) else value
    return out
