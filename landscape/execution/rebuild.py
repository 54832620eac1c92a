"""Rebuild a study's queue from its run folders, the results' source of truth.

For a damaged journal: the journal is moved aside, the grid is queued afresh, and every search
run found in ``runs/`` (its ``config.json`` names its search and trial) is queued again in its
search with its proposed parameters. Workers then record finished runs without training them
(their ``status.json`` says so) and resume unfinished ones from their checkpoints.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from landscape.execution.queue import Attr, Queue, counted, waiting_trial
from landscape.execution.storage import StorageError, journal_path
from landscape.records import RUNS_DIR, Origin, OriginKind, RunFiles
from landscape.study.plan import search_space
from landscape.study.spec import StudySpec
from landscape.train import RunSpec


def move_journal_aside(storage_url: str) -> Path | None:
    """Rename the journal to ``<name>.broken-<time>``; returns the new path (None: no file)."""
    path = journal_path(storage_url)
    if path is None:
        raise StorageError(
            f"--rebuild-queue rebuilds a journal file; {storage_url} is a database: drop its "
            f"studies (optuna delete-study) and run again instead"
        )
    if not path.exists():
        return None
    aside = path.with_name(f"{path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
    path.rename(aside)
    return aside


def requeue_search_runs(study: StudySpec, queue: Queue, results: Path) -> int:
    """Queue the search runs of ``results/runs`` that their search does not hold yet."""
    searches = {sc.key: (sc, s) for sc, s in queue.searches}
    known = {t.user_attrs.get(Attr.RUN_ID) for _, s in queue.searches for t in counted(s)}
    n = 0
    for config in sorted((results / RUNS_DIR).glob(f"*/{RunFiles.CONFIG}")):
        spec = RunSpec.from_record(json.loads(config.read_text()))
        try:
            origin = Origin.parse(spec.origin)
        except ValueError:
            continue
        if origin.kind is not OriginKind.SEARCH or origin.name not in searches:
            continue
        if spec.run_id in known:
            continue
        sc, optuna_study = searches[origin.name]
        space = search_space(study, sc)
        values = spec.to_dict()
        params = {k: values[k] for k in space}
        frozen = _frozen(params, space)
        optuna_study.add_trial(waiting_trial(spec, 1, frozen))
        n += 1
    return n


def _frozen(params, space):
    import optuna

    return optuna.trial.create_trial(
        state=optuna.trial.TrialState.WAITING, params=params, distributions=space
    )
