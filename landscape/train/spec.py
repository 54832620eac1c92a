"""The resolved run specification: everything that defines one training run.

A ``RunSpec`` is frozen and fully resolved (no "use the default" placeholders), so its hash,
the ``run_id``, names the run: the same run always gets the same id, and changing anything
that changes what is trained gives a new id. How it is scored does not (issue 17.6): the
evaluation settings say which protocol the training loop evaluates under, and evaluations under
other protocols attach to the same run (``landscape evaluate``).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
from collections.abc import Collection
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cached_property
from typing import Any

from landscape.data import DATASETS
from landscape.records import PROTOCOL_CHANGES, PROTOCOL_VERSION
from landscape.train.precision import DEFAULT_PRECISION, PRECISIONS
from landscape.variants import ARCHITECTURES, LOSSES, NORMALIZATIONS, PENALTIES

# Fields that label a run without changing it; they are not part of the run_id.
LABELS = ("study", "origin")
# How a run is scored, not what is trained: hashed at their old defaults (None), so the ids of
# runs evaluated under the default protocol did not move when evaluation left the id, and two
# studies that differ only here plan the same runs. A run recorded before, with other values,
# keeps the id it was given (``legacy_eval_id``, found by ``from_record`` and ``as_recorded``).
EVALUATION = ("eval_samples", "extractor")
# Fields added after runs were recorded: left out of the id (and config.json) at their empty
# value, so the runs recorded before them keep their ids. A retrain under changed variant code
# (landscape/execution/provenance.py) is the only run with a code_generation.
ADDED_LATER = ("penalty_kwargs", "code_generation")


@dataclass(frozen=True)
class RunSpec:
    """One training run. Defaults are the paper's (PAPER.md 4.1, 6) unless noted."""

    dataset: str
    architecture: str
    loss: str = "ns"
    penalty: str = "none"
    normalization: str = "none"
    lr: float = 2e-4  # Adam, shared by G and D
    beta1: float = 0.5
    beta2: float = 0.999
    n_disc: int = 1  # D updates per G update
    penalty_weight: float | None = None  # lambda; None -> the penalty's documented default
    loss_kwargs: dict[str, Any] = field(default_factory=dict)
    penalty_kwargs: dict[str, Any] = field(default_factory=dict)  # lambda is penalty_weight
    data_options: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 64
    z_dim: int = 128
    width: float = 1.0  # channel multiplier; 1 = the paper's models
    steps: int = 100_000  # the budget, counted in discriminator updates as the paper does
    eval_every: int = 20_000  # compare_gan's save_checkpoint_steps; also at step 0 and the end
    eval_samples: int | None = None  # None -> the data set's protocol (PAPER.md 7)
    extractor: str | None = None  # None -> the data set's protocol
    precision: str = DEFAULT_PRECISION  # fp32 (strict) | tf32 | bf16 (autocast on CUDA)
    seed: int = 0
    protocol_version: int = PROTOCOL_VERSION  # how it is trained (PROTOCOL_CHANGES)
    code_generation: int = 0  # 0: first trained; n: the nth retrain under changed variant code
    study: str = ""
    origin: str = ""
    legacy_eval_id: bool = False  # hash the evaluation settings as ids did before 17.6

    def __post_init__(self) -> None:
        if self.penalty_weight is None:
            default = inspect.signature(PENALTIES[self.penalty]).parameters["weight"].default
            object.__setattr__(self, "penalty_weight", float(default))
        validate(self)

    @cached_property  # a spec is frozen; a study's plan asks thousands of ids, each many times
    def run_id(self) -> str:
        identity = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in LABELS}
        del identity["legacy_eval_id"]
        if not self.legacy_eval_id:
            identity.update(dict.fromkeys(EVALUATION))
        # where the data come from is not which data they are
        identity["data_options"] = {k: v for k, v in self.data_options.items() if k != "download"}
        for key in ADDED_LATER:  # run_ids from before these fields existed stay the same
            if not identity[key]:
                del identity[key]
        blob = json.dumps(identity, sort_keys=True, separators=(",", ":"))
        return hashlib.sha1(blob.encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        data = {"run_id": self.run_id, **asdict(self)}
        for key in (*ADDED_LATER, "legacy_eval_id"):  # config.json as before the field existed
            if not data[key]:
                del data[key]
        return data

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> RunSpec:
        """A spec as a run folder or a study's journal recorded it: one recorded before the
        version was written down was trained under version 1; one whose recorded id hashed
        its evaluation settings keeps that id."""
        spec = cls.from_dict({"protocol_version": 1, **data})
        recorded = data.get("run_id")
        if recorded and recorded != spec.run_id:
            legacy = replace(spec, legacy_eval_id=True)
            if legacy.run_id == recorded:
                return legacy
        return spec

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - {"run_id"})
        if unknown:
            raise ValueError(
                f"unknown run spec keys: {', '.join(unknown)}; "
                f"valid keys: {', '.join(sorted(known))}"
            )
        return cls(**{k: v for k, v in data.items() if k in known})

    def with_(self, **changes: Any) -> RunSpec:
        return replace(self, **changes)


def as_recorded(run: RunSpec, known: Collection[str]) -> RunSpec:
    """``run``, or its twin recorded before evaluation left the id when ``known`` (the ids a
    queue or a results folder holds) has that one: re-planning an old study finds its runs."""
    if run.legacy_eval_id or run.run_id in known:
        return run
    legacy = replace(run, legacy_eval_id=True)
    return legacy if legacy.run_id in known else run


def validate(spec: RunSpec) -> None:
    """Raise ValueError naming the bad field and what would be valid."""
    for registry, name in (
        (DATASETS, spec.dataset),
        (ARCHITECTURES, spec.architecture),
        (LOSSES, spec.loss),
        (PENALTIES, spec.penalty),
        (NORMALIZATIONS, spec.normalization),
    ):
        registry[name]  # raises the "unknown X; choose from" error
    checks = [
        ("lr", spec.lr > 0 and math.isfinite(spec.lr), "a positive learning rate"),
        ("beta1", 0 <= spec.beta1 < 1, "0 <= beta1 < 1"),
        ("beta2", 0 <= spec.beta2 < 1, "0 <= beta2 < 1"),
        ("n_disc", isinstance(spec.n_disc, int) and spec.n_disc >= 1, "an integer >= 1"),
        ("penalty_weight", spec.penalty_weight >= 0, ">= 0"),
        ("batch_size", spec.batch_size >= 1, "an integer >= 1"),
        ("z_dim", spec.z_dim >= 1, "an integer >= 1"),
        ("width", spec.width > 0, "> 0"),
        ("steps", spec.steps >= 0, "an integer >= 0"),
        ("eval_every", spec.eval_every >= 1, "an integer >= 1"),
        ("precision", spec.precision in PRECISIONS, f"one of {', '.join(PRECISIONS)}"),
        (
            "code_generation",
            isinstance(spec.code_generation, int) and spec.code_generation >= 0,
            "an integer >= 0",
        ),
        ("eval_samples", spec.eval_samples is None or spec.eval_samples >= 2, "None or >= 2"),
        (
            "protocol_version",
            spec.protocol_version in PROTOCOL_CHANGES,
            f"one of {', '.join(map(str, PROTOCOL_CHANGES))} (the current one: {PROTOCOL_VERSION})",
        ),
    ]
    for name, ok, valid in checks:
        if not ok:
            raise ValueError(f"invalid {name} = {getattr(spec, name)!r}; must be {valid}")
