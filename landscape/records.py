"""The record vocabulary: facts the workers and the analysis must agree on, defined once.

Torch-free, so the queue, the training loop, the analysis and the report all import it. Nothing
here may be spelled as a literal anywhere else: a run's status and what "finished" means, where a
run came from (its origin), the training protocol's versions, the axes the paper compares, the
divergence sentinel, the results layout (docs/results-layout.md) and the rule that makes a run's
score from its evaluations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

AXES = ("loss", "penalty", "normalization", "architecture")  # what the paper compares
# What one fixed hyper-parameter setting of a study gives (PAPER.md 6, Table 1).
SETTING_KEYS = ("lr", "beta1", "beta2", "n_disc", "penalty_weight")
# The penalty whose lambda is unused: the planner trains it with weight 0, so the settings of a
# study that differ only in lambda are one run of it, and that run stands for each of them.
NO_PENALTY = "none"
# The axes a study may leave out of its grid (or a target may omit), and what they then are.
AXIS_DEFAULTS = {"penalty": NO_PENALTY, "normalization": "none"}

# Bump when a change to the training loop or evaluation changes results, and say what changed:
# new runs get new run_ids, so old and new results are never mixed or mistaken for each other.
# A recorded run keeps the version it was trained under (``RunSpec.from_record``); the loop
# honours it, so a study started under an older version resumes exactly as it began.
PROTOCOL_CHANGES = {
    1: "the first protocol",
    2: "G's batch norms take the batch of each G step twice, as compare_gan's second forward "
    "does (PAPER.md pitfall 5); version 1 took it once",
}
PROTOCOL_VERSION = max(PROTOCOL_CHANGES)

# compare_gan's NAN_DETECTED (PAPER.md 7): every metric of an evaluation whose fakes held NaN/inf
SENTINEL = 31337.0


class Status(StrEnum):
    """A run's status, as ``status.json`` and the queue record it."""

    PENDING = "pending"  # queued, never started
    RUNNING = "running"
    INTERRUPTED = "interrupted"  # stopped on a signal after a checkpoint; it resumes
    OK = "ok"
    DIVERGED = "diverged"  # NaN/inf losses or samples: a result (its best FID counts), not a crash
    FAILED = "failed"  # raised on every allowed attempt; its error is recorded
    # A search trial the pruner stopped at an evaluation (its step and last FID are recorded,
    # its checkpoint kept). Never trained again, but not a finished setting: its FID is that of
    # a partly trained generator, so top-5%, seed medians and comparisons leave it out; the
    # compute it used counts on the budget curves' compute axis.
    PRUNED = "pruned"

    @property
    def scored(self) -> bool:
        """A result: never trained again, its best finite FID is its score."""
        return self in (Status.OK, Status.DIVERGED)

    @property
    def ended(self) -> bool:
        """Never trained again: a scored run, or a pruned search trial."""
        return self in ENDED

    @property
    def finished(self) -> bool:
        """Ended for good (ok, diverged or failed): counted by every aggregation. A failed
        run counts as infinitely bad, never dropped; only a retry of failed runs reopens it."""
        return self in FINISHED


SCORED = (Status.OK, Status.DIVERGED)
FINISHED = (Status.OK, Status.DIVERGED, Status.FAILED)
ENDED = (*SCORED, Status.PRUNED)  # a run folder with one of these is never trained again


class OriginKind(StrEnum):
    GRID = "grid"  # a fixed hyper-parameter setting of the study (name: the setting's name)
    SEARCH = "search"  # a search trial (name: the search cell's key; trial: Optuna's number)
    TARGET = "target"  # an explicit run with published scores (name: its 1-based index)
    MANUAL = "manual"  # a run trained on its own (`landscape train`), outside any study


@dataclass(frozen=True, order=True)
class Origin:
    """Where a run came from; written by the planner, read by the analysis, as one string.

    ``grid:<setting>``, ``search:<cell>:<trial>``, ``target:<n>``, or ``""`` (manual).
    """

    kind: OriginKind
    name: str = ""
    trial: int | None = None

    @classmethod
    def grid(cls, setting: str) -> Origin:
        return cls(OriginKind.GRID, setting)

    @classmethod
    def search(cls, cell: str, trial: int) -> Origin:
        return cls(OriginKind.SEARCH, cell, int(trial))

    @classmethod
    def target(cls, index: int) -> Origin:
        return cls(OriginKind.TARGET, str(index))

    def __str__(self) -> str:
        if self.kind is OriginKind.MANUAL:
            return ""
        if self.kind is OriginKind.SEARCH:
            return f"search:{self.name}:{self.trial}"
        return f"{self.kind.value}:{self.name}"

    @classmethod
    def parse(cls, text: Any) -> Origin:
        """The inverse of ``str``; a ValueError names the forms it accepts."""
        text = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
        if text == "":
            return cls(OriginKind.MANUAL)
        kind, _, rest = text.partition(":")
        if kind == OriginKind.SEARCH:
            cell, _, trial = rest.rpartition(":")
            if cell and trial.isdigit():
                return cls.search(cell, int(trial))
        elif kind in (OriginKind.GRID, OriginKind.TARGET) and rest:
            return cls(OriginKind(kind), rest)
        raise ValueError(
            f"unreadable run origin {text!r}; expected grid:<setting>, search:<cell>:<trial>, "
            f"target:<n> or empty"
        )

    @property
    def fixed(self) -> bool:
        """A fixed setting of the study (grid or target), as opposed to a search proposal."""
        return self.kind in (OriginKind.GRID, OriginKind.TARGET)


# -- the results layout (docs/results-layout.md) ----------------------------------------------
RUNS_DIR = "runs"  # results/<study>/runs/<run_id>/
CODE_CHOICES = "code_choices.jsonl"  # results/<study>/: each retrain-or-keep choice of `run`
LOCKS_DIR = ".locks"  # results/<study>/runs/.locks/<run_id>.lock: one trainer per run
STUDY_COPY = "study.yaml"  # the study file as its first runs were run
CLAIMS_JSON = "claims.json"  # the study's claims, resolved through `base:` (the runner writes it)
JOURNAL = "optuna.journal"  # the default Optuna storage
REPORT = "report.html"


class RunFiles:
    """The file names inside one run folder."""

    CONFIG = "config.json"  # the resolved RunSpec, written before the first step
    # {status, step, steps, diverged_at, wall_time, error}; a pruned run adds pruned_fid, and a
    # worker adds the compute the run used: flops (training + evaluations; cost/flops.py)
    STATUS = "status.json"
    CHECKPOINT = "checkpoint.pt"
    TRAIN_LOG = "train.jsonl"  # one JSON line per log_every D steps
    EVAL_LOG = "evals.jsonl"  # one JSON line per evaluation
    SAMPLES = "samples"  # step_XXXXXXX.png
    WHERE = "where.jsonl"  # where it ran: one line per place (execution/where.py)
    GENERATORS = "generators"  # G kept for later scoring and sampling (KEEP_GENERATORS)
    BEST_GENERATOR = "best.pt"  # generators/best.pt: G at the best evaluation of its protocol
    CODE = "code.json"  # the fingerprint of every variant's code (train/fingerprint.py)


# Which generators a run keeps (study option `evaluation.keep_generators`): `best` keeps G at
# its best evaluation (the one defining its score) beside the latest checkpoint; `every` also
# keeps G at each evaluation step (generators/step_XXXXXXX.pt), so every step can be scored.
KEEP_GENERATORS = ("best", "every")
DEFAULT_KEEP_GENERATORS = "best"


def generator_file(step: int) -> str:
    """The name of G kept at ``step`` under ``keep_generators: every``."""
    return f"step_{step:07d}.pt"


def study_copies(results: str | Path) -> list[Path]:
    """The copies of the study file kept beside its results, oldest first: ``study.yaml``, then
    ``study.<YYYYmmdd-HHMMSS>.yaml`` for each later change (none is ever written over)."""
    stem, suffix = STUDY_COPY.rsplit(".", 1)
    first = Path(results) / STUDY_COPY
    later = sorted(Path(results).glob(f"{stem}.*.{suffix}"))
    return ([first] if first.is_file() else []) + later


def next_study_copy(results: str | Path, stamp: str) -> Path:
    """Where a changed study file is kept: ``study.<stamp>.yaml`` (stamp: YYYYmmdd-HHMMSS)."""
    stem, suffix = STUDY_COPY.rsplit(".", 1)
    return Path(results) / f"{stem}.{stamp}.{suffix}"


def run_dir(results: str | Path, run_id: str) -> Path:
    return Path(results) / RUNS_DIR / run_id


# -- the score rule (PAPER.md 7) -----------------------------------------------------------------
def is_score(value: Any) -> bool:
    """A usable FID: a finite number that is not the divergence sentinel."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value != SENTINEL
    )


def protocol_name(record: dict[str, Any]) -> str | None:
    """The name of the protocol an evaluation record was computed under (None: not recorded)."""
    protocol = record.get("protocol")
    if isinstance(protocol, dict):
        return protocol.get("name")
    return None if protocol is None else str(protocol)


def of_protocol(records: list[dict[str, Any]], protocol: str | None = None) -> list[dict]:
    """The records of one protocol: ``protocol``, or by default the first record's (a run's
    first evaluation, step 0, is under the protocol it was trained with; `landscape evaluate`
    appends other protocols' records after it)."""
    if not records:
        return []
    name = protocol_name(records[0]) if protocol is None else protocol
    return [r for r in records if protocol_name(r) == name]


def best_evaluation(
    records: list[dict[str, Any]], protocol: str | None = None
) -> dict[str, Any] | None:
    """The evaluation with the lowest usable FID, step 0 included (the earliest on ties), among
    those of one protocol (``of_protocol``); None when there is none. The run's score is its
    FID; the other metrics are read at its step."""
    usable = [r for r in of_protocol(records, protocol) if is_score(r.get("fid"))]
    return min(usable, key=lambda r: (r["fid"], r.get("step", 0))) if usable else None


def run_score(records: list[dict[str, Any]], protocol: str | None = None) -> float:
    """The run's score: its best FID, or SENTINEL when no evaluation had a usable one."""
    best = best_evaluation(records, protocol)
    return float(best["fid"]) if best else SENTINEL
