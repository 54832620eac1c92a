"""The compute a pruned search is expected to spend, from its pruner's rungs.

Successive halving (``asha``) keeps, at each rung min_resource * reduction_factor**(s + k) D
steps (s: min_early_stopping_rate), the best 1/reduction_factor of the trials that reached it.
A trial is asked only at its evaluations, so it stops at the first evaluation at or after the
rung it fails (evaluations: every ``eval_every`` D steps and at the end; step 0 is no rung).
With many trials a fraction (1 - 1/eta) stops at the first rung, 1/eta (1 - 1/eta) at the
second, and so on; the expected share of a full trial's D steps follows. Hyperband runs
brackets s = 0 .. n-1 of that rule (n = floor(log_eta(max/min)) + 1), taken here in equal
shares. Both are the asymptotic share: the first trials of a search have nobody to lose to and
run to the end, so a short search spends more. The median, patient and Wilcoxon rules prune by
the FIDs themselves, not by rungs: no estimate (None).
"""

from __future__ import annotations

import math
from typing import Any

from landscape.execution.pruners import options_of

AUTO_MIN_RESOURCE = 100  # Optuna's "auto": the first finished trial's steps / 100


def evaluation_step(step: float, steps: int, eval_every: int) -> int:
    """The first evaluation at or after D step ``step`` (the end at the latest)."""
    return min(steps, math.ceil(step / eval_every) * eval_every)


def halving_share(min_resource: int, eta: int, rate: int, steps: int, eval_every: int) -> float:
    """Expected D steps of one trial, as a share of ``steps``, under successive halving."""
    share, alive, k = 0.0, 1.0, 0
    while (rung := min_resource * eta ** (rate + k)) < steps:
        stop = evaluation_step(rung, steps, eval_every)
        if stop >= steps:
            break
        share += alive * (1 - 1 / eta) * stop / steps
        alive /= eta
        k += 1
    return share + alive


def pruned_share(
    pruner: str | None, options: dict[str, Any], steps: int, eval_every: int
) -> float | None:
    """The expected share of a full trial's D steps (and so of its compute) a search trial
    spends under ``pruner``; 1.0 without one, None where the rule has no rungs."""
    if pruner is None:
        return 1.0
    if pruner not in ("asha", "hyperband"):
        return None
    given = {**options_of(pruner), **options}
    eta = int(given["reduction_factor"])
    low = given["min_resource"]
    low = max(1, steps // AUTO_MIN_RESOURCE) if low == "auto" else int(low)
    if pruner == "asha":
        return halving_share(low, eta, int(given["min_early_stopping_rate"]), steps, eval_every)
    high = steps if given["max_resource"] == "auto" else int(given["max_resource"])
    brackets = max(1, math.floor(math.log(max(high / low, 1), eta)) + 1)
    shares = [halving_share(low, eta, s, steps, eval_every) for s in range(brackets)]
    return sum(shares) / brackets
