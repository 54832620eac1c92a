"""A study file, validated into a frozen ``StudySpec`` before anything runs.

Every error names the file, the key and the valid choices (``StudyError``). The keys and their
defaults are documented in docs/studies.md.
"""

from __future__ import annotations

import inspect
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from landscape.claims import Claim, parse_claims
from landscape.data import DATASETS
from landscape.data.base import resolution_of
from landscape.registry import Registry
from landscape.study.load import StudyError, load_plugins, resolve
from landscape.study.settings import (
    NAMED_SETTINGS,
    PAPER_PENALTY_RANGES,
    PAPER_RANGES,
    PAPER_SEARCH_N_DISC,
)
from landscape.variants import ARCHITECTURES, LOSSES, NORMALIZATIONS, PENALTIES

AXES: dict[str, Registry] = {
    "loss": LOSSES,
    "penalty": PENALTIES,
    "normalization": NORMALIZATIONS,
    "architecture": ARCHITECTURES,
}
TOP_KEYS = {
    "targets",
    "claims",
    "name",
    "plugins",
    "dataset",
    "data_options",
    "data_root",
    "evaluation",
    "budget",
    "model",
    "grid",
    "hyperparameters",
    "seeds",
    "variant_options",
    "exclude",
    "search",
}
SECTION_KEYS = {
    "evaluation": {"samples", "extractor"},
    "budget": {"steps", "eval_every", "batch_size", "checkpoint_every", "log_every"},
    "model": {"z_dim", "width", "precision"},
    "search": {"sampler", "trials", "scope", "n_disc", "seed", "ranges", "startup_trials"},
}
SETTING_KEYS = {"lr", "beta1", "beta2", "n_disc", "penalty_weight"}
SAMPLERS = ("gp", "tpe", "random")


@dataclass(frozen=True)
class Search:
    sampler: str = "gp"
    trials: int = 10
    scope: str = "cell"  # "cell": one search per grid cell; "space": one over the whole grid
    n_disc: tuple[int, ...] = PAPER_SEARCH_N_DISC
    seed: int = 0
    startup_trials: int = 10  # random trials before the model takes over (Optuna's default)
    ranges: dict[str, tuple[float, float, bool]] = field(default_factory=lambda: PAPER_RANGES)
    penalty_ranges: dict[str, tuple[float, float, bool]] = field(
        default_factory=lambda: PAPER_PENALTY_RANGES
    )


@dataclass(frozen=True)
class StudySpec:
    name: str
    path: Path
    dataset: str
    grid: dict[str, tuple[str, ...]]
    settings: tuple[tuple[str, dict[str, Any]], ...]  # (name, {lr, beta1, ...})
    seeds: tuple[int, ...] = (0,)
    data_options: dict[str, Any] = field(default_factory=dict)
    data_root: str | None = None
    eval_samples: int | None = None
    extractor: str | None = None
    steps: int = 100_000
    eval_every: int = 20_000
    batch_size: int = 64
    checkpoint_every: int = 1000
    log_every: int = 100
    z_dim: int = 128
    width: float = 1.0
    precision: str = "fp32"
    loss_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    penalty_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    exclude: tuple[dict[str, tuple[str, ...]], ...] = ()
    search: Search | None = None
    # explicit runs with published scores (PAPER.md 9): ({axis: name}, setting, seed, published)
    targets: tuple[tuple[dict[str, str], dict[str, Any], int, dict[str, float]], ...] = ()
    plugins: tuple[str, ...] = ()
    claims: tuple[Claim, ...] = ()  # findings to check (PAPER.md 11); landscape/claims.py


def load_study(path: str | Path) -> StudySpec:
    """Read, inherit, load plugins and validate a study file."""
    path = Path(path).resolve()
    raw = resolve(path)
    load_plugins(path, raw["plugins"])  # before names are checked: plugins register them
    return Validator(path, raw).study()


class Validator:
    def __init__(self, path: Path, raw: dict[str, Any]) -> None:
        self.path, self.raw = path, raw

    def fail(self, key: str, problem: str) -> None:
        raise StudyError(self.path, key, problem)

    def keys(self, where: str, mapping: Any, allowed: set[str]) -> dict[str, Any]:
        if mapping is None:
            return {}
        if not isinstance(mapping, dict):
            self.fail(where, "expected a mapping")
        for key in mapping:
            if key not in allowed:
                self.fail(
                    f"{where}.{key}" if where else key,
                    f"unknown key; valid keys: {', '.join(sorted(allowed))}",
                )
        return mapping

    def number(self, key: str, value: Any, kind: type, low: float | None = None) -> Any:
        if kind is float and isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as text
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
            self.fail(
                key, f"expected {'a number' if kind is float else 'an integer'}, got {value!r}"
            )
        if low is not None and not value >= low:
            self.fail(key, f"must be >= {low}, got {value!r}")
        return kind(value)

    def name(self, key: str, registry: Registry, value: Any) -> str:
        if not isinstance(value, str) or value not in registry:
            self.fail(key, f"unknown {registry.kind} {value!r}; choose from: {', '.join(registry)}")
        return value

    def study(self) -> StudySpec:
        raw = self.keys("", self.raw, TOP_KEYS)
        if "dataset" not in raw:
            self.fail("dataset", f"missing; choose from: {', '.join(DATASETS)}")
        dataset = self.name("dataset", DATASETS, raw["dataset"])
        ev = self.keys("evaluation", raw.get("evaluation"), SECTION_KEYS["evaluation"])
        budget = self.keys("budget", raw.get("budget"), SECTION_KEYS["budget"])
        model = self.keys("model", raw.get("model"), SECTION_KEYS["model"])
        data_options = raw.get("data_options") or {}
        if not isinstance(data_options, dict):
            self.fail("data_options", "expected a mapping of loader options")
        targets = self.targets(raw.get("targets") or [])
        grid = self.grid(raw.get("grid"), optional=bool(targets))
        archs = {*grid["architecture"], *(t[0]["architecture"] for t in targets)}
        self.check_resolution(dataset, data_options, tuple(sorted(archs)))
        precision = model.get("precision", "fp32")
        if precision not in ("fp32", "bf16"):
            self.fail(
                "model.precision", f"unknown precision {precision!r}; choose from: bf16, fp32"
            )
        samples = ev.get("samples")
        options = self.variant_options(raw.get("variant_options"))
        self.check_protocol(dataset, ev, data_options)
        return StudySpec(
            name=str(raw.get("name") or self.path.stem),
            path=self.path,
            dataset=dataset,
            grid=grid,
            settings=self.settings(raw.get("hyperparameters", "paper_table1")),
            seeds=self.seeds(raw.get("seeds", [0])),
            data_options=data_options,
            data_root=raw.get("data_root"),
            eval_samples=None
            if samples is None
            else self.number("evaluation.samples", samples, int, 2),
            extractor=ev.get("extractor"),
            steps=self.number("budget.steps", budget.get("steps", 100_000), int, 1),
            eval_every=self.number("budget.eval_every", budget.get("eval_every", 20_000), int, 1),
            batch_size=self.number("budget.batch_size", budget.get("batch_size", 64), int, 1),
            checkpoint_every=self.number(
                "budget.checkpoint_every", budget.get("checkpoint_every", 1000), int, 1
            ),
            log_every=self.number("budget.log_every", budget.get("log_every", 100), int, 1),
            z_dim=self.number("model.z_dim", model.get("z_dim", 128), int, 1),
            width=self.number("model.width", model.get("width", 1.0), float, 1e-6),
            precision=precision,
            loss_options=options["loss"],
            penalty_options=options["penalty"],
            exclude=self.exclude(raw.get("exclude") or []),
            search=self.search(raw["search"]) if raw.get("search") is not None else None,
            plugins=tuple(raw.get("plugins", [])),
            targets=targets,
            claims=parse_claims(raw.get("claims"), self.fail, grid),
        )

    def check_protocol(self, dataset: str, ev: dict[str, Any], data_options: dict) -> None:
        """The evaluation protocol must exist before any worker needs it."""
        from landscape.metrics import protocol_for

        samples = ev.get("samples")
        try:
            protocol_for(
                dataset,
                n_samples=None if samples is None else int(samples),
                extractor=ev.get("extractor"),
                data_options=data_options,
            )
        except (ValueError, KeyError, TypeError) as error:
            key = "evaluation.extractor" if "extractor" in str(error) else "evaluation.samples"
            self.fail(key, str(error).strip("'\""))

    def grid(self, grid: Any, optional: bool = False) -> dict[str, tuple[str, ...]]:
        if grid is None and optional:  # a study of explicit target runs only
            return {axis: () for axis in AXES}
        if grid is None:
            self.fail(
                "grid",
                f"missing; give a list for each axis: {', '.join(AXES)} (a file "
                f"meant as another study's `base:` cannot run on its own)",
            )
        grid = self.keys("grid", grid, set(AXES))
        out = {}
        for axis, registry in AXES.items():
            values = grid.get(axis, ["none"] if axis in ("penalty", "normalization") else None)
            if values is None:
                self.fail(f"grid.{axis}", f"missing; choose from: {', '.join(registry)}")
            values = [values] if isinstance(values, str) else values
            if not isinstance(values, list) or not values:
                self.fail(
                    f"grid.{axis}", f"empty axis; choose one or more of: {', '.join(registry)}"
                )
            out[axis] = tuple(self.name(f"grid.{axis}", registry, v) for v in values)
            if len(set(out[axis])) != len(out[axis]):
                self.fail(f"grid.{axis}", "lists a variant twice")
        return out

    def check_resolution(self, dataset: str, options: dict, architectures: tuple[str, ...]):
        size = resolution_of(dataset, options)
        for arch in architectures:
            supported = getattr(ARCHITECTURES[arch], "resolutions", None)
            if size is not None and supported and size not in supported:
                self.fail(
                    "grid.architecture",
                    f"{arch!r} does not support {dataset}'s {size}x"
                    f"{size} images; it supports: {', '.join(map(str, supported))}",
                )

    def settings(self, value: Any) -> tuple[tuple[str, dict[str, Any]], ...]:
        key = "hyperparameters"
        if isinstance(value, str):
            if value not in NAMED_SETTINGS:
                self.fail(
                    key,
                    f"unknown named set {value!r}; choose from: "
                    f"{', '.join(NAMED_SETTINGS)}, or give a list of settings",
                )
            return tuple(
                (f"{value}-{i + 1:02d}", dict(s)) for i, s in enumerate(NAMED_SETTINGS[value])
            )
        if isinstance(value, dict):  # a mapping of lists: their Cartesian product
            self.keys(key, value, SETTING_KEYS)
            lists = {k: v if isinstance(v, list) else [v] for k, v in value.items()}
            value = [
                dict(zip(lists, combo, strict=True)) for combo in itertools.product(*lists.values())
            ]
        if not isinstance(value, list) or not value:
            self.fail(
                key, "expected a named set (paper_table1), a list of settings or a mapping of lists"
            )
        return tuple(
            (f"hp-{i + 1:02d}", self.setting(f"{key}[{i}]", s)) for i, s in enumerate(value)
        )

    def setting(self, key: str, s: Any) -> dict[str, Any]:
        s = self.keys(key, s, SETTING_KEYS)
        out = {}
        for name, kind, low, high in (
            ("lr", float, 0, None),
            ("beta1", float, 0, 1),
            ("beta2", float, 0, 1),
            ("n_disc", int, 1, None),
            ("penalty_weight", float, 0, None),
        ):
            if name in s:
                v = self.number(f"{key}.{name}", s[name], kind, low)
                if (name == "lr" and v <= 0) or (high is not None and not v < high):
                    self.fail(f"{key}.{name}", f"out of range: {v!r}")
                out[name] = v
        return out

    def targets(self, targets: Any) -> tuple:
        """Explicit runs, each: the four axes, a setting, a seed and the published scores."""
        if not isinstance(targets, list):
            self.fail("targets", "expected a list of runs with their published scores")
        out = []
        for i, t in enumerate(targets):
            key = f"targets[{i}]"
            t = self.keys(key, t, {*AXES, *SETTING_KEYS, "seed", "steps", "published"})
            axes = {}
            for axis, registry in AXES.items():
                default = "none" if axis in ("penalty", "normalization") else None
                if t.get(axis, default) is None:
                    self.fail(f"{key}.{axis}", f"missing; choose from: {', '.join(registry)}")
                axes[axis] = self.name(f"{key}.{axis}", registry, t.get(axis, default))
            setting = self.setting(key, {k: v for k, v in t.items() if k in SETTING_KEYS})
            published = self.keys(f"{key}.published", t.get("published"), {"fid", "is", "ms_ssim"})
            published = {
                k: self.number(f"{key}.published.{k}", v, float) for k, v in published.items()
            }
            seed = self.number(f"{key}.seed", t.get("seed", 0), int, 0)
            if "steps" in t:  # a target trained longer or shorter than the study's budget
                setting["steps"] = self.number(f"{key}.steps", t["steps"], int, 1)
            out.append((axes, setting, seed, published))
        return tuple(out)

    def seeds(self, seeds: Any) -> tuple[int, ...]:
        seeds = [seeds] if isinstance(seeds, int) else seeds
        if not isinstance(seeds, list) or not seeds:
            self.fail("seeds", "expected a non-empty list of integers")
        if len(set(map(str, seeds))) != len(seeds):
            self.fail("seeds", "lists a seed twice")
        return tuple(self.number(f"seeds[{i}]", s, int, 0) for i, s in enumerate(seeds))

    def variant_options(self, value: Any) -> dict[str, dict[str, dict[str, Any]]]:
        value = self.keys("variant_options", value, {"loss", "penalty"})
        out: dict[str, dict[str, dict[str, Any]]] = {"loss": {}, "penalty": {}}
        for axis, per_name in value.items():
            per_name = self.keys(f"variant_options.{axis}", per_name, set(AXES[axis]))
            for name, kwargs in per_name.items():
                if not isinstance(kwargs, dict):
                    self.fail(f"variant_options.{axis}.{name}", "expected keyword: value pairs")
                self.check_keywords(f"variant_options.{axis}.{name}", AXES[axis][name], kwargs)
                out[axis][name] = kwargs
        return out

    def check_keywords(self, key: str, variant: Any, kwargs: dict[str, Any]) -> None:
        """Keyword-only arguments the variant declares, numbers >= 0 for a penalty's weight."""
        accepted = {
            n: p
            for n, p in inspect.signature(variant).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        }
        for name, value in kwargs.items():
            if name not in accepted:
                self.fail(
                    f"{key}.{name}",
                    f"not a keyword of this variant; it takes: {', '.join(accepted) or 'none'}",
                )
            if name == "weight":
                self.number(f"{key}.{name}", value, float, 0)

    def exclude(self, rules: Any) -> tuple[dict[str, tuple[str, ...]], ...]:
        if not isinstance(rules, list):
            self.fail("exclude", "expected a list of rules like {normalization: sn, penalty: l2}")
        out = []
        for i, rule in enumerate(rules):
            rule = self.keys(f"exclude[{i}]", rule, set(AXES))
            if not rule:
                self.fail(f"exclude[{i}]", "an empty rule would exclude every run")
            out.append(
                {
                    axis: tuple(
                        self.name(f"exclude[{i}].{axis}", AXES[axis], v)
                        for v in ([vals] if isinstance(vals, str) else vals)
                    )
                    for axis, vals in rule.items()
                }
            )
        return tuple(out)

    def search(self, raw: Any) -> Search:
        raw = self.keys("search", raw, SECTION_KEYS["search"])
        sampler = raw.get("sampler", "gp")
        if sampler not in SAMPLERS:
            self.fail(
                "search.sampler", f"unknown sampler {sampler!r}; choose from: {', '.join(SAMPLERS)}"
            )
        scope = raw.get("scope", "cell")
        if scope not in ("cell", "space"):
            self.fail("search.scope", f"unknown scope {scope!r}; choose from: cell, space")
        n_disc = raw.get("n_disc", list(PAPER_SEARCH_N_DISC))
        n_disc = [n_disc] if isinstance(n_disc, int) else n_disc
        if not isinstance(n_disc, list) or not n_disc:
            self.fail("search.n_disc", "expected a non-empty list of integers >= 1")
        ranges, penalty_ranges = dict(PAPER_RANGES), dict(PAPER_PENALTY_RANGES)
        given = self.keys("search.ranges", raw.get("ranges"), {*PAPER_RANGES, "penalty_weight"})
        for name, value in given.items():
            if name == "penalty_weight":
                value = self.keys("search.ranges.penalty_weight", value, set(PENALTIES))
                for pen, r in value.items():
                    penalty_ranges[pen] = self.range(f"search.ranges.penalty_weight.{pen}", r)
            else:
                ranges[name] = self.range(f"search.ranges.{name}", value)
        return Search(
            sampler=sampler,
            trials=self.number("search.trials", raw.get("trials", 10), int, 1),
            scope=scope,
            n_disc=tuple(
                self.number(f"search.n_disc[{i}]", n, int, 1) for i, n in enumerate(n_disc)
            ),
            seed=self.number("search.seed", raw.get("seed", 0), int, 0),
            startup_trials=self.number(
                "search.startup_trials", raw.get("startup_trials", 10), int, 0
            ),
            ranges=ranges,
            penalty_ranges=penalty_ranges,
        )

    def range(self, key: str, value: Any) -> tuple[float, float, bool]:
        """``[low, high]`` or ``[low, high, log]``."""
        if not isinstance(value, list) or len(value) not in (2, 3):
            self.fail(key, f"expected [low, high] or [low, high, log], got {value!r}")
        low = self.number(f"{key}[0]", value[0], float)
        high = self.number(f"{key}[1]", value[1], float)
        log = len(value) == 3 and value[2] in ("log", True)
        if not low <= high or not (math.isfinite(low) and math.isfinite(high)):
            self.fail(key, f"low must not exceed high, got [{low}, {high}]")
        if log and low <= 0:
            self.fail(key, f"a log-scale range needs low > 0, got {low}")
        return (low, high, log)
