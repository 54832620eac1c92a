"""Execution: how a planned study runs. The queue (an Optuna storage behind a lease API), its
storage, the search samplers, the workers that claim and train runs, the launchers that start
them (``runner``: a local pool; ``slurm``: a job array) and the study's status."""

from __future__ import annotations

__all__ = ["Worker", "results_dir", "run_study"]


def __getattr__(name: str):
    """Imported on first use, so that torch-free modules of the package (status) load without
    the workers' torch."""
    if name == "Worker":
        from landscape.execution.worker import Worker

        return Worker
    if name in ("results_dir", "run_study"):
        from landscape.execution import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
