"""Studies: a study file becomes a grid of runs plus searches, trained by resumable workers."""

from landscape.study.load import StudyError
from landscape.study.plan import expected_runs, grid_runs, search_cells
from landscape.study.runner import results_dir, run_study
from landscape.study.spec import StudySpec, load_study
from landscape.study.worker import Worker

__all__ = [
    "StudyError",
    "StudySpec",
    "Worker",
    "expected_runs",
    "grid_runs",
    "load_study",
    "results_dir",
    "run_study",
    "search_cells",
]
