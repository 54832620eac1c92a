"""A results folder planned by the real planner: a real study file, its grid runs
(landscape.study.plan.grid_runs) and search trials (search_run, with proposals drawn from the
study's own search space), written with the training loop's own record writers (RunFolder,
write_json, append_jsonl) and the runner's copy of the study file. Only the scores are made up,
by ``score`` (a known model, so tests can check the analysis against it), and no network is
trained. Imports the study code (optuna, torch): use from tests, not from the torch-free report.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from optuna.distributions import CategoricalDistribution, FloatDistribution

from landscape.execution.runner import record_study_file
from landscape.records import Status
from landscape.study.plan import grid_runs, search_cells, search_run, search_space
from landscape.study.spec import StudySpec, load_study
from landscape.train import RunSpec
from landscape.train.records import RunFolder, append_jsonl, write_json

Score = Callable[[RunSpec], tuple[str, float]]  # -> (status, final FID)


def propose(space: dict, rng: np.random.Generator) -> dict:
    """One random proposal from a search space (what the search's startup trials do)."""
    params = {}
    for name, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            params[name] = dist.choices[int(rng.integers(len(dist.choices)))]
        elif isinstance(dist, FloatDistribution) and dist.log:
            params[name] = float(math.exp(rng.uniform(math.log(dist.low), math.log(dist.high))))
        else:
            params[name] = float(rng.uniform(dist.low, dist.high))
    return params


def planned_specs(study: StudySpec, trials: int, seed: int = 0) -> list[RunSpec]:
    """The study's grid runs, then ``trials`` search trials of each search cell."""
    rng = np.random.default_rng(seed)
    specs = list(grid_runs(study))
    for sc in search_cells(study):
        space = search_space(study, sc)
        specs += [search_run(study, sc, propose(space, rng), n) for n in range(trials)]
    return specs


def write_planned_run(results: Path, spec: RunSpec, status: str, fid: float) -> None:
    """The run folder as the loop leaves it: config, evaluations at 0, eval_every, ..., steps
    (FID falling to ``fid``; a diverged run records the sentinel at its last step; a failed
    run stops after step 0) and status.json."""
    folder = RunFolder(results / "runs" / spec.run_id)
    folder.path.mkdir(parents=True, exist_ok=True)
    write_json(folder.config, spec.to_dict())
    steps = list(range(0, spec.steps + 1, spec.eval_every))
    if steps[-1] != spec.steps:
        steps.append(spec.steps)
    if status == Status.FAILED:
        steps = steps[:1]
    for i, step in enumerate(steps):
        value = fid + (300.0 - fid) * (1 - step / spec.steps) ** 2
        if status == Status.DIVERGED and i == len(steps) - 1:
            value = 31337.0  # landscape.records.SENTINEL, as the loop records it
        append_jsonl(folder.eval_log, {"step": step, "fid": value, "protocol": "planned"})
    folder.set_status(
        status=str(status),
        step=steps[-1],
        steps=spec.steps,
        diverged_at=steps[-1] if status == Status.DIVERGED else None,
        wall_time=1.0,
        error="RuntimeError: made up" if status == Status.FAILED else None,
    )


def planned_study(
    study_file: str | Path, results: Path, score: Score, *, trials: int = 3, seed: int = 0
) -> tuple[StudySpec, list[RunSpec]]:
    """Write the whole planned study into ``results`` (a results/<study>/ folder)."""
    study = load_study(study_file)
    results.mkdir(parents=True, exist_ok=True)
    record_study_file(study, results)
    specs = planned_specs(study, trials, seed)
    for spec in specs:
        status, fid = score(spec)
        write_planned_run(results, spec, status, fid)
    return study, specs
