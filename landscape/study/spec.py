"""A study file, validated into a frozen ``StudySpec`` before anything runs.

Every error names the file, the key and the valid choices (``StudyError``). The keys and their
defaults are documented in docs/studies.md. The checks are in ``validate`` (the study's
sections), ``validate_data`` (data set options and budgets), ``validate_variants`` (variant
keywords) and ``validate_search`` (the ``search:`` section).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from landscape import records
from landscape.registry import Registry
from landscape.study.claims import Claim
from landscape.study.load import StudyError, load_plugins, resolve
from landscape.study.settings import PAPER_PENALTY_RANGES, PAPER_RANGES, PAPER_SEARCH_N_DISC
from landscape.variants import ARCHITECTURES, LOSSES, NORMALIZATIONS, PENALTIES

AXES: dict[str, Registry] = {
    "loss": LOSSES,
    "penalty": PENALTIES,
    "normalization": NORMALIZATIONS,
    "architecture": ARCHITECTURES,
}
TOP_KEYS = {
    "targets",
    "claims",
    "name",
    "plugins",
    "dataset",
    "data_options",
    "data_root",
    "evaluation",
    "budget",
    "model",
    "grid",
    "hyperparameters",
    "seeds",
    "variant_options",
    "exclude",
    "search",
}
SECTION_KEYS = {
    "evaluation": {"samples", "extractor", "keep_generators", "metrics"},
    "budget": {"steps", "eval_every", "batch_size", "checkpoint_every", "log_every"},
    "model": {"z_dim", "width", "precision"},
    "search": {
        "sampler",
        "trials",
        "scope",
        "n_disc",
        "seed",
        "ranges",
        "startup_trials",
        "pruner",
        "pruner_options",
    },
}
SETTING_KEYS = set(records.SETTING_KEYS)


@dataclass(frozen=True)
class Search:
    sampler: str = "gp"
    trials: int = 10
    scope: str = "cell"  # "cell": one search per grid cell; "space": one over the whole grid
    n_disc: tuple[int, ...] = PAPER_SEARCH_N_DISC
    seed: int = 0
    startup_trials: int = 10  # random trials before the model takes over (Optuna's default)
    ranges: dict[str, tuple[float, float, bool]] = field(default_factory=lambda: PAPER_RANGES)
    penalty_ranges: dict[str, tuple[float, float, bool]] = field(
        default_factory=lambda: PAPER_PENALTY_RANGES
    )
    # stop losing trials early (execution/pruners.py); None trains every trial to the end
    pruner: str | None = None
    pruner_options: dict[str, Any] = field(default_factory=dict)  # as Optuna's pruner takes them


@dataclass(frozen=True)
class StudySpec:
    name: str
    path: Path
    dataset: str
    grid: dict[str, tuple[str, ...]]
    settings: tuple[tuple[str, dict[str, Any]], ...]  # (name, {lr, beta1, ...})
    seeds: tuple[int, ...] = (0,)
    data_options: dict[str, Any] = field(default_factory=dict)
    data_root: str | None = None
    eval_samples: int | None = None
    extractor: str | None = None
    keep_generators: str = records.DEFAULT_KEEP_GENERATORS  # best | every (records.py)
    metrics: tuple[str, ...] | None = None  # METRICS to compute; None: the default ones
    steps: int = 100_000
    eval_every: int = 20_000
    batch_size: int = 64
    checkpoint_every: int = 1000
    log_every: int = 100
    z_dim: int = 128
    width: float = 1.0
    precision: str = "fp32"
    loss_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    penalty_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # weight included
    exclude: tuple[dict[str, tuple[str, ...]], ...] = ()
    search: Search | None = None
    # explicit runs with published scores (PAPER.md 9): ({axis: name}, setting, seed, published)
    targets: tuple[tuple[dict[str, str], dict[str, Any], int, dict[str, float]], ...] = ()
    plugins: tuple[str, ...] = ()
    claims: tuple[Claim, ...] = ()  # findings to check (PAPER.md 11); landscape/study/claims.py


def load_study(path: str | Path) -> StudySpec:
    """Read, inherit, load plugins and validate a study file."""
    from landscape.study.validate import Validator  # it builds a StudySpec: imported here

    path = Path(path).resolve()
    raw = resolve(path)
    load_plugins(path, raw["plugins"])  # before names are checked: plugins register them
    study = Validator(path, raw).study()
    check_claims_testable(study)
    return study


def check_claims_testable(study: StudySpec) -> None:
    """Each claim needs a cell of its `better` side and one of its `than` side that agree on
    every other axis (after `exclude`), or no run could ever test it."""
    from landscape.study.plan import cells

    planned = [cell._asdict() for cell in cells(study)]
    for i, claim in enumerate(study.claims):
        better, than = claim.side("better"), claim.side("than")
        others = [a for a in AXES if a not in better]
        if not _rest(planned, better, others) & _rest(planned, than, others):
            raise StudyError(
                study.path,
                f"claims[{i}]",
                f"{claim.label} can never be tested: no cell of the grid (after `exclude`) with "
                f"{better} has a cell with {than} that agrees on every other axis; add the "
                f"missing values to the grid or drop the claim",
            )


def _rest(planned: list[dict[str, str]], side: dict[str, str], others: list[str]) -> set[tuple]:
    """The values on ``others`` of the planned cells that have the ``side``'s values."""
    return {tuple(c[a] for a in others) for c in planned if all(c[a] == v for a, v in side.items())}
