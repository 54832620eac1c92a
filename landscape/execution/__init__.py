"""Execution: how a planned study runs. The queue (an Optuna storage behind a lease API), its
storage, the search samplers, the workers that claim and train runs, the launchers that start
them (``runner``: a local pool; ``slurm``: a job array) and the study's status."""

from landscape.execution.runner import results_dir, run_study
from landscape.execution.worker import Worker

__all__ = ["Worker", "results_dir", "run_study"]
