"""Search samplers: name -> factory, a registry like every other extension point.

A factory takes ``(seed, startup_trials)`` and returns an Optuna sampler. A study's
``search.sampler`` names one; a plugin file adds its own::

    from landscape.execution.samplers import SAMPLERS

    @SAMPLERS.register("qmc")
    def qmc(seed, startup_trials):
        return optuna.samplers.QMCSampler(seed=seed)
"""

from __future__ import annotations

import os
from collections.abc import Callable

import optuna

from landscape.registry import Registry

SamplerFactory = Callable[[int, int], optuna.samplers.BaseSampler]
SAMPLERS: Registry[SamplerFactory] = Registry("sampler")


@SAMPLERS.register("gp")
def gp(seed: int, startup_trials: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup_trials)


@SAMPLERS.register("tpe")
def tpe(seed: int, startup_trials: int) -> optuna.samplers.BaseSampler:
    # constant liar: running trials count as bad, so parallel workers spread out
    return optuna.samplers.TPESampler(
        seed=seed, n_startup_trials=startup_trials, constant_liar=True
    )


@SAMPLERS.register("random")
def random(seed: int, startup_trials: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.RandomSampler(seed=seed)


def make_sampler(name: str, seed: int, key: str, startup_trials: int):
    """The sampler ``name`` for the search ``key``: each search its own random stream, and each
    worker its own (workers that share a seed propose the same settings when they ask at the
    same time). One worker alone is reproducible. An unknown name lists the valid ones."""
    salt = int(os.environ.get("LANDSCAPE_WORKER_INDEX", os.getpid()))
    stream = (seed + sum(map(ord, key)) + 7919 * salt) % 2**31
    return SAMPLERS[name](stream, startup_trials)
