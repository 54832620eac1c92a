"""Runs know the code they ran: record it, and never mix a changed variant's runs silently.

A worker writes each run's code record (train/fingerprint.py) to ``code.json`` in its folder
and the digest to its queue record. ``landscape plan`` and ``landscape run`` compare the
finished runs' records with the code loaded now; where a variant differs, ``run`` stops until
the user chooses: ``--retrain-changed`` queues each such run again as a run of its own (its id
gains ``code_generation``; the old run stays, and the report sets it apart), ``--keep-changed``
keeps them as they are. Either choice is logged in ``code_choices.jsonl``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from optuna.trial import TrialState

from landscape.errors import UserError
from landscape.execution.queue import Lease, Queue
from landscape.execution.trials import Attr, counted, waiting_trial
from landscape.records import CODE_CHOICES, RunFiles, run_dir
from landscape.train.fingerprint import run_code
from landscape.train.records import append_jsonl, read_json, write_json
from landscape.train.spec import RunSpec

RETRAIN, KEEP = "retrain", "keep"  # the two choices
FLAGS = {RETRAIN: "--retrain-changed", KEEP: "--keep-changed"}
SHOWN = 10  # run ids listed per changed variant


class CodeChanged(UserError):
    """Finished runs were trained with code that differs from the code loaded now."""


@dataclass(frozen=True)
class Changed:
    """A finished run whose recorded variant code differs from the current code."""

    spec: RunSpec
    variants: tuple[str, ...]  # "loss:ragan", ... whose fingerprints differ
    recorded: dict[str, str]  # variant -> fingerprint the run recorded
    current: dict[str, str]  # variant -> fingerprint now


def note_code(queue: Queue, claim: Lease, folder: Path) -> dict[str, Any]:
    """Write the claim's code record to ``folder/code.json`` (once: a resumed run keeps the
    record of the code it started with) and its digest to the queue. A folder that holds
    another run is left untouched (training refuses it)."""
    code = current_code(claim.spec)
    config = read_json(folder / RunFiles.CONFIG) if (folder / RunFiles.CONFIG).exists() else None
    if config is not None and config.get("run_id") != claim.spec.run_id:
        return code
    path = folder / RunFiles.CODE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        write_json(path, {"run_id": claim.spec.run_id, **code})
    queue.storage.set_trial_user_attr(claim.trial_id, Attr.CODE, code["code"])
    return code


def current_code(spec: RunSpec) -> dict[str, Any]:
    return _code(spec.dataset, spec.architecture, spec.loss, spec.penalty, spec.normalization)


@cache
def _code(*names: str) -> dict[str, Any]:
    dataset, architecture, loss, penalty, normalization = names
    spec = RunSpec(dataset, architecture, loss, penalty, normalization)
    return run_code(spec)


def latest_runs(queue: Queue) -> list[tuple[RunSpec, Any]]:
    """(spec, trial) of the newest code generation of every run the queue holds."""
    latest: dict[str, tuple[RunSpec, Any]] = {}
    for study in queue.studies():
        for t in counted(study):
            if Attr.SPEC not in t.user_attrs:
                continue
            spec = RunSpec.from_record(json.loads(t.user_attrs[Attr.SPEC]))
            base = spec.with_(code_generation=0).run_id
            if base not in latest or latest[base][0].code_generation < spec.code_generation:
                latest[base] = (spec, t)
    return list(latest.values())


def changed_runs(queue: Queue, results: Path) -> tuple[list[Changed], int]:
    """The finished runs (of their newest generation) whose recorded variant code differs from
    the current code, and how many finished runs recorded no code (trained before records).
    Runs kept (``--keep-changed``) against the same current code are not listed again."""
    changed, unrecorded = [], 0
    kept = kept_runs(results)
    for spec, trial in latest_runs(queue):
        if trial.state != TrialState.COMPLETE:
            continue
        record = _read(run_dir(results, spec.run_id) / RunFiles.CODE)
        if record is None:
            unrecorded += 1
            continue
        now = current_code(spec)["variants"]
        then = record.get("variants", {})
        differ = tuple(k for k in now if k in then and then[k] != now[k])
        if differ and kept.get(spec.run_id) != {k: now[k] for k in differ}:
            changed.append(Changed(spec, differ, then, now))
    return changed, unrecorded


def kept_runs(results: Path) -> dict[str, dict[str, str]]:
    """run_id -> the variant code it was kept against (``--keep-changed``): asked once per
    change; a later change of the same variant asks again."""
    out: dict[str, dict[str, str]] = {}
    path = results / CODE_CHOICES
    lines = path.read_text().splitlines() if path.is_file() else []
    for line in lines:
        try:
            choice = json.loads(line)
        except ValueError:
            continue  # a torn last line
        if choice.get("choice") == KEEP:
            out.update(choice.get("against", {}))
    return out


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def describe(changed: list[Changed]) -> str:
    """Which runs were trained with which code, one paragraph per changed variant."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for c in changed:
        for v in c.variants:
            groups.setdefault((v, c.recorded[v], c.current[v]), []).append(c.spec.run_id)
    lines = []
    for (variant, then, now), ids in sorted(groups.items()):
        shown = ", ".join(ids[:SHOWN]) + (
            f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else ""
        )
        lines.append(
            f"  {variant}: {len(ids)} finished run(s) were trained with its code {then}; "
            f"its code is now {now}: {shown}"
        )
    return "\n".join(lines)


def settle(queue: Queue, results: Path, choice: str | None) -> int:
    """Apply the user's choice about runs whose variant code changed; returns how many runs
    were queued again. Without a choice, raise ``CodeChanged`` naming the runs and the flags."""
    changed, _ = changed_runs(queue, results)
    if not changed:
        return 0
    text = describe(changed)
    if choice is None:
        raise CodeChanged(
            f"{len(changed)} finished run(s) were trained with variant code that has changed "
            f"since:\n{text}\nchoose: `{FLAGS[RETRAIN]}` trains them again under the new code "
            f"(as runs of their own; the old runs are kept and reported apart), or "
            f"`{FLAGS[KEEP]}` keeps their results as they are"
        )
    if choice not in FLAGS:
        raise ValueError(f"unknown choice {choice!r}; choose from: {', '.join(FLAGS)}")
    queued = _retrain(queue, changed) if choice == RETRAIN else []
    append_jsonl(
        results / CODE_CHOICES,
        {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "choice": choice,
            "runs": {c.spec.run_id: list(c.variants) for c in changed},
            "against": {c.spec.run_id: {v: c.current[v] for v in c.variants} for c in changed},
            "retrains": queued,
        },
    )
    if choice == RETRAIN:
        print(f"{len(queued)} run(s) queued again under the new code:\n{text}", flush=True)
    else:
        print(f"kept {len(changed)} run(s) trained with older variant code:\n{text}", flush=True)
    return len(queued)


def _retrain(queue: Queue, changed: list[Changed]) -> list[str]:
    """Queue each changed run again, one code generation up, in the grid's study (a search's
    study would count it against the search's trial budget)."""
    out = []
    with queue.lock:
        for c in changed:
            spec = c.spec.with_(code_generation=c.spec.code_generation + 1)
            queue.grid.add_trial(waiting_trial(spec, attempt=1))
            out.append(spec.run_id)
    return out


def retrains(queue: Queue) -> int:
    """How many retrains the queue holds: each adds one run to the study's planned total."""
    n = 0
    for study in queue.studies():
        for t in counted(study):
            spec = json.loads(t.user_attrs.get(Attr.SPEC, "{}"))
            n += bool(spec.get("code_generation"))
    return n
