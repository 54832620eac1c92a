"""How far a study has got, from its queue alone: what `landscape status` and the progress line
of `landscape run` show (docs/studies.md, "Watching a study").

Torch-free: it reads trials (any process, any host, any time after a restart) and computes

- the runs done, running, failed and left;
- the throughput over a recent window (runs finished in the last ``window`` seconds, divided
  by the part of the window during which anything ran, so a restart 10 minutes ago is not
  averaged with the hours the study stood still), and the ETA from it;
- the best FID so far; the failures grouped by reason (messages with their numbers, paths and
  ids taken out);
- the device time spent in claims that did not finish (void trials): interrupted (pre-emption,
  a signal), lost workers, duplicates and retried errors.

``Summary.to_json()`` is the stable ``--json`` schema (SCHEMA, documented in docs/studies.md).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from landscape.execution.trials import (
    DONE,
    FAILED,
    HEARTBEAT_EVERY,
    PRUNED,
    QUEUED,
    RUNNING,
    Attr,
    Gave,
    count_of,
    counted,
    failure_of,
)
from landscape.records import is_score

SCHEMA = 1  # bump when a key of Summary.to_json() changes meaning or goes away
WINDOW = 3600.0  # seconds of recent history the throughput is measured over (default)
VOID = "void"  # the kind of a trial that stands for nothing (Attr.VOID)
LEFT = "left"  # runs neither ended nor running: total - done - pruned - failed - running
COUNTS = (DONE, PRUNED, RUNNING, FAILED, LEFT)
ENDED = (DONE, PRUNED, FAILED)  # a run in one of these is never trained again

# How a void trial's device time is accounted, by how its reason starts (trials.Gave, written
# by worker.py and queue.py). Anything else (a proposal over budget, a superseded protocol)
# never ran and costs nothing. CANNOT_START before LOST: both start with "worker".
VOID_KINDS = (
    (Gave.INTERRUPTED, "interrupted"),
    (Gave.CANNOT_START, "cannot_start"),
    (f"{Gave.LOST} ", "lost"),
    (Gave.DUPLICATE, "duplicate"),
    (f"{Gave.RETRIED} ", "retried"),
)
LOST_KINDS = tuple(dict.fromkeys(kind for _, kind in VOID_KINDS))


def void_kind(reason: str) -> str | None:
    return next((kind for prefix, kind in VOID_KINDS if reason.startswith(prefix)), None)


@dataclass(frozen=True)
class TrialRow:
    """What the status needs of one trial, read once from the storage."""

    kind: str  # done, pruned, failed, running, queued (trials.count_of), or void
    run_id: str | None
    origin: str = ""
    start: float | None = None  # when it was claimed (time.time())
    end: float | None = None  # finished (void: when its device stopped working for it)
    value: float | None = None  # the run's score (its best FID)
    error: str | None = None  # a failed run's error, or a void trial's reason
    worker: str = ""
    step: int | None = None  # the last step its worker reported
    steps: int | None = None  # the run's budget


def _stamp(moment) -> float | None:
    return moment.timestamp() if moment is not None else None


def _row(t: FrozenTrial, stands: bool) -> TrialRow:
    attrs = t.user_attrs
    start, end = _stamp(t.datetime_start), _stamp(t.datetime_complete)
    kind, error = (count_of(t), None) if stands else (VOID, str(attrs.get(Attr.VOID, "")))
    if kind == FAILED:
        error = failure_of(t)
    if kind == VOID and end is not None and Attr.HEARTBEAT in attrs:
        # a lost claim is ended long after its worker died: its device worked for it at most
        # until one beat after its last sign of life
        end = min(end, float(attrs[Attr.HEARTBEAT]) + HEARTBEAT_EVERY)
    steps = None
    if kind == RUNNING and Attr.SPEC in attrs:
        steps = json.loads(attrs[Attr.SPEC]).get("steps")
    return TrialRow(
        kind=kind,
        run_id=attrs.get(Attr.RUN_ID),
        origin=str(attrs.get(Attr.ORIGIN, "")),
        start=start,
        end=end,
        value=t.value if t.state == TrialState.COMPLETE else None,
        error=error,
        worker=str(attrs.get(Attr.WORKER, "")),
        step=attrs.get(Attr.STEP),
        steps=steps,
    )


def read_rows(studies: Iterable[optuna.Study]) -> list[TrialRow]:
    """Every trial of the study's Optuna studies (Queue.studies()), void ones included."""
    out = []
    for study in studies:
        stands = {t.number for t in counted(study)}
        out += [_row(t, t.number in stands) for t in study.get_trials(deepcopy=False)]
    return out


@dataclass(frozen=True)
class Throughput:
    window: float  # seconds asked for
    span: float  # seconds of the window during which something ran
    finished: int  # runs ended (done, pruned or failed) in it

    @property
    def per_hour(self) -> float | None:
        return self.finished / self.span * 3600 if self.finished and self.span > 0 else None


def throughput(rows: list[TrialRow], now: float, window: float = WINDOW) -> Throughput:
    """Runs finished in the last ``window`` seconds over the part of the window during which
    something ran: from the earliest claim still working in the window (after a restart: the
    restart, not the hours before it while nothing ran) to now, or while nothing runs, to the
    last end (a finished or stopped study keeps the rate it had)."""
    since = now - window
    finished = [r for r in rows if r.kind in ENDED and r.end is not None]
    recent = [r for r in finished if r.end >= since]
    active = [
        r
        for r in rows
        if r.start is not None
        and r.kind != QUEUED
        and (r.kind == RUNNING or (r.end is not None and r.end >= since))
    ]
    if not active:
        return Throughput(window, 0.0, 0)
    start = max(since, min(r.start for r in active))
    end = now if any(r.kind == RUNNING for r in active) else max(r.end for r in active)
    return Throughput(window, max(end - start, 0.0), len(recent))


def eta_seconds(remaining: int, per_hour: float | None) -> float | None:
    """Seconds until ``remaining`` runs (left and running) are through at ``per_hour``."""
    if remaining == 0:
        return 0.0
    return remaining / per_hour * 3600 if per_hour else None


def duration_text(seconds: float | None) -> str:
    """``45 s``, ``12 min``, ``14 h 24 min`` (under two days) or ``37.5 days``: never a clock
    time, which wraps at 24 h."""
    if seconds is None or not math.isfinite(seconds):
        return "unknown"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min"
    if seconds < 48 * 3600:
        minutes = round(seconds / 60)
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{seconds / 86400:.1f} days"


# Replaced, in this order, to turn an error message into its reason: what differs between
# runs failing for one cause (paths, ids, addresses, numbers) is taken out.
NOISE = (
    (re.compile(r"(?:[A-Za-z]:)?(?:/[\w.@+-]+){2,}/?"), "<path>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<addr>"),
    (re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{8,}\b"), "<id>"),
    (re.compile(r"(?<![\w<])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?"), "<n>"),
    (re.compile(r"\s+"), " "),
)
REASON_CHARS = 160


def reason_of(message: str | None) -> str:
    """The reason of an error message: its last non-empty line (a traceback's exception line),
    with paths, hex ids, addresses and numbers replaced by placeholders."""
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    text = lines[-1] if lines else "no error recorded"
    for pattern, placeholder in NOISE:
        text = pattern.sub(placeholder, text)
    text = text.strip()
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 3] + "..."


@dataclass
class FailureGroup:
    reason: str
    runs: int = 0  # failed for good
    retried: int = 0  # attempts that raised and were queued again
    run_ids: list[str] = field(default_factory=list)  # the failed runs (all of them)
    example: str = ""  # one full message


def failure_groups(rows: list[TrialRow]) -> list[FailureGroup]:
    """Failed runs and retried attempts, grouped by reason_of their error, most runs first."""
    groups: dict[str, FailureGroup] = {}
    for r in rows:
        retried = r.kind == VOID and void_kind(r.error or "") == "retried"
        if r.kind != FAILED and not retried:
            continue
        message = (r.error or "").partition(": ")[2] if retried else r.error
        group = groups.setdefault(reason_of(message), FailureGroup(reason_of(message)))
        group.example = group.example or (message or "")
        if retried:
            group.retried += 1
        else:
            group.runs += 1
            group.run_ids.append(r.run_id or "?")
    return sorted(groups.values(), key=lambda g: (-g.runs, -g.retried, g.reason))


def void_seconds(rows: list[TrialRow]) -> dict[str, float]:
    """Device seconds spent in claims that did not finish, by kind (LOST_KINDS)."""
    out = dict.fromkeys(LOST_KINDS, 0.0)
    for r in rows:
        kind = void_kind(r.error or "") if r.kind == VOID else None
        if kind and r.start is not None and r.end is not None:
            out[kind] += max(r.end - r.start, 0.0)
    return out


@dataclass(frozen=True)
class Summary:
    study: str
    now: float
    total: int
    counts: dict[str, int]  # done, running, failed, left (COUNTS)
    rate: Throughput
    eta: float | None
    best: dict[str, Any] | None  # {run_id, origin, fid}
    failures: list[FailureGroup]
    lost: dict[str, float]  # void_seconds
    running: list[dict[str, Any]]  # {run_id, origin, worker, step, steps, started, where}

    def to_json(self) -> dict[str, Any]:
        """The --json document (schema SCHEMA; docs/studies.md lists every key)."""
        return {
            "schema": SCHEMA,
            "study": self.study,
            "time": self.now,
            "total": self.total,
            "counts": self.counts,
            "throughput": {
                "window_seconds": self.rate.window,
                "span_seconds": self.rate.span,
                "finished": self.rate.finished,
                "per_hour": self.rate.per_hour,
            },
            "eta_seconds": self.eta,
            "eta": duration_text(self.eta) if self.eta is not None else None,
            "best": self.best,
            "failures": [asdict(g) for g in self.failures],
            "void_seconds": self.lost,
            "running": self.running,
        }


def summarize(
    study: str,
    rows: list[TrialRow],
    total: int,
    now: float | None = None,
    window: float = WINDOW,
    where=lambda run_id: None,
) -> Summary:
    """The status of a study of ``total`` runs from its trial rows; ``where(run_id)`` gives
    where a running run runs (execution.where.last_place)."""
    now = time.time() if now is None else now
    standing = [r for r in rows if r.kind != VOID]
    n = {k: sum(r.kind == k for r in standing) for k in (DONE, PRUNED, RUNNING, FAILED)}
    counts = {**n, LEFT: max(total - sum(n.values()), 0)}
    rate = throughput(rows, now, window)
    # nothing running: nothing says when the rest will be (the workers are stopped)
    eta = eta_seconds(counts[LEFT] + n[RUNNING], rate.per_hour if n[RUNNING] else None)
    scored = [r for r in standing if r.kind == DONE and is_score(r.value)]
    top = min(scored, key=lambda r: r.value) if scored else None
    best = {"run_id": top.run_id, "origin": top.origin, "fid": top.value} if top else None
    running = [
        {
            "run_id": r.run_id or "(proposal)",
            "origin": r.origin,
            "worker": r.worker,
            "step": r.step,
            "steps": r.steps,
            "started": r.start,
            "where": where(r.run_id) if r.run_id else None,
        }
        for r in standing
        if r.kind == RUNNING
    ]
    return Summary(
        study,
        now,
        total,
        counts,
        rate,
        eta,
        best,
        failure_groups(rows),
        void_seconds(rows),
        running,
    )


def line(s: Summary) -> str:
    """One line: the counts, throughput, ETA and best FID (the `run` progress line)."""
    c = s.counts
    cut = f" ({c[PRUNED]} pruned)" if c[PRUNED] else ""  # search trials stopped early
    text = (
        f"{c[DONE] + c[PRUNED]} done{cut}, {c[RUNNING]} running, {c[FAILED]} failed, "
        f"{c[LEFT]} left of {s.total}"
    )
    if s.rate.per_hour is not None:
        text += f"; {s.rate.per_hour:.3g} runs/h over the last {duration_text(s.rate.span)}"
    if s.eta is not None and c[LEFT] + c[RUNNING]:
        text += f"; ETA {duration_text(s.eta)}"
    if s.best:
        text += f"; best FID {s.best['fid']:.4g}"
    return text
