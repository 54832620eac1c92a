"""The paper's hyper-parameter settings and search ranges (PAPER.md section 6)."""

from __future__ import annotations

import itertools

# Table 1, the fixed "good" grid: lr x lambda x (beta1, beta2, n_disc) = 3 x 2 x 4 = 24.
# The values are PAPER.md's reconstruction [UNVERIFIED there: the table is an image].
_TABLE1_LR = (2e-4, 1e-4, 1e-3)
_TABLE1_LAMBDA = (1.0, 10.0)
_TABLE1_ADAM = ((0.5, 0.9, 5), (0.5, 0.999, 1), (0.5, 0.999, 5), (0.9, 0.999, 5))

PAPER_TABLE1: tuple[dict[str, float | int], ...] = tuple(
    {"lr": lr, "beta1": b1, "beta2": b2, "n_disc": n, "penalty_weight": lam}
    for lr, lam, (b1, b2, n) in itertools.product(_TABLE1_LR, _TABLE1_LAMBDA, _TABLE1_ADAM)
)

NAMED_SETTINGS = {"paper_table1": PAPER_TABLE1}

# Table 2, the Bayesian-optimisation ranges: (low, high, log scale).
PAPER_RANGES: dict[str, tuple[float, float, bool]] = {
    "lr": (1e-5, 1e-2, True),
    "beta1": (0.0, 1.0, False),
    "beta2": (0.0, 1.0, False),
}
PAPER_PENALTY_RANGES: dict[str, tuple[float, float, bool]] = {
    "gp": (1e-1, 1e2, True),
    "dragan": (1e-1, 1e2, True),
    "r1": (1e-1, 1e2, True),  # not in the paper; GP's range
    "l2": (1e-4, 1e1, True),
}
PAPER_SEARCH_N_DISC = (1, 5)  # run as separate searches (PAPER.md Table 2)
