"""Turn a StudySpec into runs: the grid (cells x settings x seeds) and the search cells."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from typing import Any, NamedTuple

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
)

from landscape.records import NO_PENALTY, Origin
from landscape.study.spec import AXES, StudySpec
from landscape.train import RunSpec

BETA_MAX = 1 - 1e-6  # Table 2 says [0, 1]; beta = 1 would freeze Adam's moment estimates


class Cell(NamedTuple):
    loss: str
    penalty: str
    normalization: str
    architecture: str

    @property
    def key(self) -> str:
        return "-".join(self)


def cells(study: StudySpec) -> list[Cell]:
    """Every combination of the grid's axes that no ``exclude`` rule removes."""
    out = []
    for combo in itertools.product(*(study.grid[axis] for axis in AXES)):
        cell = Cell(*combo)
        if not any(
            all(getattr(cell, axis) in values for axis, values in rule.items())
            for rule in study.exclude
        ):
            out.append(cell)
    return out


def run_spec(
    study: StudySpec, cell: Cell, setting: dict[str, Any], seed: int, origin: str
) -> RunSpec:
    """The resolved RunSpec of one cell with one hyper-parameter setting and seed."""
    weight = setting.get(
        "penalty_weight", study.penalty_options.get(cell.penalty, {}).get("weight")
    )
    if cell.penalty == NO_PENALTY:
        weight = 0.0  # lambda is unused: settings differing only in lambda are one run
    return RunSpec(
        dataset=study.dataset,
        architecture=cell.architecture,
        loss=cell.loss,
        penalty=cell.penalty,
        normalization=cell.normalization,
        lr=setting.get("lr", 2e-4),
        beta1=setting.get("beta1", 0.5),
        beta2=setting.get("beta2", 0.999),
        n_disc=setting.get("n_disc", 1),
        penalty_weight=weight,
        loss_kwargs=dict(study.loss_options.get(cell.loss, {})),
        penalty_kwargs={  # the penalty's own keywords; its weight is penalty_weight
            k: v for k, v in study.penalty_options.get(cell.penalty, {}).items() if k != "weight"
        },
        data_options=dict(study.data_options),
        batch_size=study.batch_size,
        z_dim=study.z_dim,
        width=study.width,
        steps=setting.get("steps", study.steps),
        eval_every=study.eval_every,
        eval_samples=study.eval_samples,
        extractor=study.extractor,
        precision=study.precision,
        seed=seed,
        study=study.name,
        origin=origin,
    )


def grid_runs(study: StudySpec) -> list[RunSpec]:
    """The fixed runs: cells x settings x seeds, then the explicit ``targets``, without
    duplicates (same run_id: the first origin is kept)."""
    runs: dict[str, RunSpec] = {}
    for cell in cells(study):
        for (name, setting), seed in itertools.product(study.settings, study.seeds):
            spec = run_spec(study, cell, setting, seed, str(Origin.grid(name)))
            runs.setdefault(spec.run_id, spec)
    for i, (axes, setting, seed, _) in enumerate(study.targets):
        spec = run_spec(study, Cell(**axes), setting, seed, str(Origin.target(i + 1)))
        runs.setdefault(spec.run_id, spec)
    return list(runs.values())


def targets_frame(study: StudySpec):
    """Published scores of the study's targets, the columns the report joins on."""
    import pandas as pd

    rows = [
        {
            "dataset": study.dataset,
            **axes,
            "published_fid": pub.get("fid"),
            "published_is": pub.get("is"),
            "published_ms_ssim": pub.get("ms_ssim"),
        }
        for axes, _, _, pub in study.targets
        if "fid" in pub
    ]
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class SearchCell:
    """One Gaussian-process (or TPE, random) search: a grid cell, or the whole grid."""

    key: str
    cell: Cell | None  # None: the variant axes are searched too (scope "space")
    n_disc: int


def search_cells(study: StudySpec) -> list[SearchCell]:
    if study.search is None:
        return []
    if study.search.scope == "cell":
        return [
            SearchCell(f"{c.key}-ndisc{n}", c, n) for c in cells(study) for n in study.search.n_disc
        ]
    # The space's choices name the search: a new variant starts a new search over the new
    # space (Optuna's categorical distributions cannot gain choices).
    tag = hashlib.sha1(repr(sorted(cells(study))).encode()).hexdigest()[:8]
    return [SearchCell(f"space{tag}-ndisc{n}", None, n) for n in study.search.n_disc]


def search_space(study: StudySpec, sc: SearchCell) -> dict[str, BaseDistribution]:
    """Table 2: log-uniform lr, uniform beta1 and beta2, lambda on its penalty's range."""
    from landscape.variants import PENALTIES

    assert study.search is not None
    space: dict[str, BaseDistribution] = {}
    for name, (low, high, log) in study.search.ranges.items():
        high = min(high, BETA_MAX) if name.startswith("beta") else high
        space[name] = FloatDistribution(min(low, high), high, log=log)
    penalties = [sc.cell.penalty] if sc.cell else list(study.grid["penalty"])
    ranges = []
    for p in penalties:  # the study file's range, else the one the penalty registered with
        r = study.search.penalty_ranges.get(p) or getattr(PENALTIES[p], "search_range", None)
        if r is not None and p != NO_PENALTY:
            ranges.append(r)
    if ranges:  # scope "space": one range spanning those of the searched penalties
        low, high = min(r[0] for r in ranges), max(r[1] for r in ranges)
        space["penalty_weight"] = FloatDistribution(low, high, log=all(r[2] for r in ranges))
    if sc.cell is None:
        valid = cells(study)
        for axis in AXES:
            choices = sorted({getattr(c, axis) for c in valid})
            space[axis] = CategoricalDistribution(choices)
    return space


def search_run(study: StudySpec, sc: SearchCell, params: dict[str, Any], number: int) -> RunSpec:
    """The run a search trial proposes. One seed per trial: the search absorbs seed noise."""
    cell = sc.cell or Cell(*(params[axis] for axis in AXES))
    setting = {k: params[k] for k in ("lr", "beta1", "beta2", "penalty_weight") if k in params}
    setting["n_disc"] = sc.n_disc
    return run_spec(study, cell, setting, study.seeds[0], str(Origin.search(sc.key, number)))


def expected_runs(study: StudySpec) -> int:
    trials = study.search.trials if study.search else 0
    return len(grid_runs(study)) + len(search_cells(study)) * trials
