"""The paper's hyper-parameter settings and search ranges (PAPER.md section 6)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping

from landscape.variants.penalties import PENALTIES

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


class _PenaltyRanges(Mapping[str, tuple[float, float, bool]]):
    """Penalty name -> (low, high, log), read from each registry entry's ``search_range``
    (Table 2 for the paper's penalties) every time: a plugin's penalty appears once loaded."""

    def _ranges(self) -> dict[str, tuple[float, float, bool]]:
        entries = ((name, PENALTIES[name]) for name in PENALTIES)
        found = ((name, getattr(entry, "search_range", None)) for name, entry in entries)
        return {name: r for name, r in found if r is not None}

    def __getitem__(self, name: str) -> tuple[float, float, bool]:
        return self._ranges()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._ranges())

    def __len__(self) -> int:
        return len(self._ranges())

    def __repr__(self) -> str:
        return f"PAPER_PENALTY_RANGES({self._ranges()!r})"


PAPER_PENALTY_RANGES: Mapping[str, tuple[float, float, bool]] = _PenaltyRanges()
PAPER_SEARCH_N_DISC = (1, 5)  # run as separate searches (PAPER.md Table 2)
