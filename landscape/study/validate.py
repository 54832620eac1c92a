"""Validate a resolved study file (``load.resolve``) into a ``StudySpec``, section by section.

The data set and budget checks are in ``validate_data``, variant keywords in
``validate_variants``, the ``search:`` section in ``validate_search``.
"""

from __future__ import annotations

import itertools
from typing import Any

from landscape.data import DATASETS
from landscape.records import AXIS_DEFAULTS, DEFAULT_KEEP_GENERATORS, KEEP_GENERATORS
from landscape.study import validate_data as data
from landscape.study.checks import Checker
from landscape.study.claims import parse_claims
from landscape.study.settings import NAMED_SETTINGS
from landscape.study.spec import AXES, SECTION_KEYS, SETTING_KEYS, TOP_KEYS, StudySpec
from landscape.study.validate_search import search
from landscape.study.validate_variants import variant_options
from landscape.train.precision import PRECISIONS


class Validator(Checker):
    def study(self) -> StudySpec:
        raw = self.keys("", self.raw, TOP_KEYS)
        if "dataset" not in raw:
            self.fail("dataset", f"missing; choose from: {', '.join(DATASETS)}")
        dataset = self.name("dataset", DATASETS, raw["dataset"])
        ev = self.keys("evaluation", raw.get("evaluation"), SECTION_KEYS["evaluation"])
        budget = self.keys("budget", raw.get("budget"), SECTION_KEYS["budget"])
        model = self.keys("model", raw.get("model"), SECTION_KEYS["model"])
        data_options = data.data_options(self, dataset, raw.get("data_options"))
        targets = self.targets(raw.get("targets") or [])
        grid = self.grid(raw.get("grid"), optional=bool(targets))
        archs = {*grid["architecture"], *(t[0]["architecture"] for t in targets)}
        data.check_resolution(self, dataset, data_options, tuple(sorted(archs)))
        precision = model.get("precision", "fp32")
        if precision not in PRECISIONS:
            self.fail(
                "model.precision",
                f"unknown precision {precision!r}; choose from: {', '.join(PRECISIONS)}",
            )
        samples = ev.get("samples")
        options = variant_options(self, raw.get("variant_options"))
        data.check_protocol(self, dataset, ev, data_options)
        steps = self.number("budget.steps", budget.get("steps", 100_000), int, 1)
        eval_every = self.number("budget.eval_every", budget.get("eval_every", 20_000), int, 1)
        batch_size = self.number("budget.batch_size", budget.get("batch_size", 64), int, 1)
        data.check_budget(self, dataset, steps, eval_every, batch_size)
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
            keep_generators=self.keep_generators(ev.get("keep_generators")),
            metrics=data.metrics(self, ev.get("metrics")),
            steps=steps,
            eval_every=eval_every,
            batch_size=batch_size,
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
            search=search(self, raw["search"]) if raw.get("search") is not None else None,
            plugins=tuple(raw.get("plugins", [])),
            targets=targets,
            claims=parse_claims(raw.get("claims"), self.fail, grid),
        )

    def keep_generators(self, value: Any) -> str:
        if value is None:
            return DEFAULT_KEEP_GENERATORS
        if value not in KEEP_GENERATORS:
            self.fail(
                "evaluation.keep_generators",
                f"{value!r} is not a choice; choose from: {', '.join(KEEP_GENERATORS)} (best: G "
                f"at each run's best evaluation; every: also G at every evaluation step)",
            )
        return value

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
            default = AXIS_DEFAULTS.get(axis)
            values = grid.get(axis, None if default is None else [default])
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
                default = AXIS_DEFAULTS.get(axis)
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
