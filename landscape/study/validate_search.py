"""The ``search:`` section: sampler, trials, scope, n_disc and the ranges searched (Table 2)."""

from __future__ import annotations

from typing import Any

from landscape.errors import UserError
from landscape.execution.pruners import PRUNERS, make_pruner
from landscape.execution.samplers import SAMPLERS
from landscape.study.checks import Checker
from landscape.study.settings import PAPER_PENALTY_RANGES, PAPER_RANGES, PAPER_SEARCH_N_DISC
from landscape.study.spec import SECTION_KEYS, Search
from landscape.variants import PENALTIES

SCOPES = ("cell", "space")


def sampler(check: Checker, value: Any) -> str:
    """A name in the sampler registry (the study's plugins are loaded by now)."""
    return check.name("search.sampler", SAMPLERS, value)


def pruner(check: Checker, raw: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """A name in the pruner registry (or none) and its options, tried on the pruner itself so
    an unknown option or a value Optuna refuses is reported now, not by a worker."""
    name, options = raw.get("pruner"), raw.get("pruner_options")
    if name is None:
        if options:
            check.fail("search.pruner_options", "given without search.pruner")
        return None, {}
    name = check.name("search.pruner", PRUNERS, name)
    if options is not None and not isinstance(options, dict):
        check.fail("search.pruner_options", f"expected a mapping, got {options!r}")
    try:
        make_pruner(name, options)
    except UserError as error:
        check.fail("search.pruner_options", str(error))
    return name, dict(options or {})


def search(check: Checker, raw: Any) -> Search:
    raw = check.keys("search", raw, SECTION_KEYS["search"])
    chosen = sampler(check, raw.get("sampler", "gp"))
    scope = raw.get("scope", "cell")
    if scope not in SCOPES:
        check.fail("search.scope", f"unknown scope {scope!r}; choose from: {', '.join(SCOPES)}")
    n_disc = raw.get("n_disc", list(PAPER_SEARCH_N_DISC))
    n_disc = [n_disc] if isinstance(n_disc, int) else n_disc
    if not isinstance(n_disc, list) or not n_disc:
        check.fail("search.n_disc", "expected a non-empty list of integers >= 1")
    ranges, penalty_ranges = dict(PAPER_RANGES), dict(PAPER_PENALTY_RANGES)
    given = check.keys("search.ranges", raw.get("ranges"), {*PAPER_RANGES, "penalty_weight"})
    for name, value in given.items():
        if name == "penalty_weight":
            value = check.keys("search.ranges.penalty_weight", value, set(PENALTIES))
            for pen, r in value.items():
                penalty_ranges[pen] = check.range(f"search.ranges.penalty_weight.{pen}", r)
        else:
            ranges[name] = check.range(f"search.ranges.{name}", value)
    pruned, options = pruner(check, raw)
    return Search(
        sampler=chosen,
        pruner=pruned,
        pruner_options=options,
        trials=check.number("search.trials", raw.get("trials", 10), int, 1),
        scope=scope,
        n_disc=tuple(check.number(f"search.n_disc[{i}]", n, int, 1) for i, n in enumerate(n_disc)),
        seed=check.number("search.seed", raw.get("seed", 0), int, 0),
        startup_trials=check.number("search.startup_trials", raw.get("startup_trials", 10), int, 0),
        ranges=ranges,
        penalty_ranges=penalty_ranges,
    )
