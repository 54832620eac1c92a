"""Search pruners: name -> factory, a registry like the samplers beside it.

A pruner stops a search trial whose intermediate FIDs say it will not be among the best, so the
compute goes to the trials that might. A factory takes the study file's ``search.pruner_options``
as keyword arguments (Optuna's own names and defaults) and returns an Optuna pruner. A plugin
file adds its own::

    from landscape.execution.pruners import PRUNERS

    @PRUNERS.register("threshold")
    def threshold(*, upper: float = 300.0):
        return optuna.pruners.ThresholdPruner(upper=upper)

The worker reports each evaluation's FID as it happens (the D step is Optuna's "step"); step 0,
the untrained generator, is never a rung. Only search trials are pruned: the grid's fixed
settings are what the paper's comparisons are made of.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any

import optuna

from landscape.errors import UserError
from landscape.registry import Registry

PrunerFactory = Callable[..., optuna.pruners.BasePruner]
PRUNERS: Registry[PrunerFactory] = Registry("pruner")


@PRUNERS.register("asha")
def asha(
    *,
    min_resource: int | str = "auto",
    reduction_factor: int = 4,
    min_early_stopping_rate: int = 0,
    bootstrap_count: int = 0,
) -> optuna.pruners.BasePruner:
    """Asynchronous successive halving (Li et al., MLSys 2020): at the rungs
    min_resource * reduction_factor**k D steps, a trial goes on only if it is in the best
    1/reduction_factor of the trials that reached that rung."""
    return optuna.pruners.SuccessiveHalvingPruner(
        min_resource=min_resource,
        reduction_factor=reduction_factor,
        min_early_stopping_rate=min_early_stopping_rate,
        bootstrap_count=bootstrap_count,
    )


@PRUNERS.register("hyperband")
def hyperband(
    *,
    min_resource: int = 1,
    max_resource: int | str = "auto",
    reduction_factor: int = 3,
    bootstrap_count: int = 0,
) -> optuna.pruners.BasePruner:
    """Hyperband (Li et al., JMLR 2018): several successive-halving brackets of different
    aggressiveness; a trial's bracket is drawn from its number."""
    return optuna.pruners.HyperbandPruner(
        min_resource=min_resource,
        max_resource=max_resource,
        reduction_factor=reduction_factor,
        bootstrap_count=bootstrap_count,
    )


@PRUNERS.register("median")
def median(
    *, n_startup_trials: int = 5, n_warmup_steps: int = 0, interval_steps: int = 1, n_min_trials=1
) -> optuna.pruners.BasePruner:
    """Stop a trial whose best FID so far is worse than the median of the finished trials'
    FIDs at the same step (Vizier's median stopping rule)."""
    return optuna.pruners.MedianPruner(
        n_startup_trials=n_startup_trials,
        n_warmup_steps=n_warmup_steps,
        interval_steps=interval_steps,
        n_min_trials=n_min_trials,
    )


@PRUNERS.register("patient")
def patient(
    *,
    patience: int = 1,
    min_delta: float = 0.0,
    n_startup_trials: int = 5,
    n_warmup_steps: int = 0,
) -> optuna.pruners.BasePruner:
    """The median rule, asked only once a trial's FID has not improved by ``min_delta`` for
    ``patience`` evaluations in a row (Optuna's PatientPruner around a MedianPruner)."""
    inner = optuna.pruners.MedianPruner(
        n_startup_trials=n_startup_trials, n_warmup_steps=n_warmup_steps
    )
    return optuna.pruners.PatientPruner(inner, patience=patience, min_delta=min_delta)


@PRUNERS.register("wilcoxon")
def wilcoxon(*, p_threshold: float = 0.1, n_startup_steps: int = 2) -> optuna.pruners.BasePruner:
    """A Wilcoxon signed-rank test of the trial's FIDs against the best trial's at the same
    steps; stop when it is significantly worse at level ``p_threshold``."""
    return optuna.pruners.WilcoxonPruner(p_threshold=p_threshold, n_startup_steps=n_startup_steps)


def options_of(name: str) -> dict[str, Any]:
    """The keyword options of pruner ``name`` and their defaults."""
    params = inspect.signature(PRUNERS[name]).parameters.values()
    return {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY}


def make_pruner(name: str | None, options: dict[str, Any] | None = None):
    """The pruner ``name`` built with ``options``; None for no pruning. An unknown name or
    option, or a value Optuna refuses, is a UserError that says what is valid."""
    if name is None:
        return None
    options = dict(options or {})
    valid = options_of(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        choices = ", ".join(f"{k} (default {v!r})" for k, v in valid.items()) or "none"
        raise UserError(f"pruner {name!r} takes no option {', '.join(unknown)}; valid: {choices}")
    try:
        with warnings.catch_warnings():  # "experimental" (patient, wilcoxon): said once here
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return PRUNERS[name](**options)
    except (TypeError, ValueError) as error:
        raise UserError(f"pruner {name!r} refused options {options}: {error}") from None
