"""Checks of a study's data set, its options and its budget against what the loader, the
architectures and the evaluation protocol accept: a run that could not start is refused when
the study file is read, not when a worker gets to it."""

from __future__ import annotations

from typing import Any

from landscape.data.base import loader_options, resolution_of, train_size_of
from landscape.study.checks import Checker
from landscape.variants import ARCHITECTURES


def data_options(check: Checker, dataset: str, value: Any) -> dict[str, Any]:
    """``data_options``: only the options the data set's loader takes, each of its type."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        check.fail("data_options", f"expected a mapping of {dataset}'s loader options")
    accepted = loader_options(dataset)
    if accepted is None:  # the loader takes any option (**options)
        return dict(value)
    out = {}
    for name, given in value.items():
        key = f"data_options.{name}"
        if name not in accepted:
            takes = ", ".join(f"{k} (default {v!r})" for k, v in accepted.items()) or "none"
            check.fail(key, f"not an option of the {dataset} data set; it takes: {takes}")
        checked = check.like(key, given, accepted[name])
        out[name] = checked if isinstance(given, str) else given  # as written: run_ids hash it
    return out


def check_resolution(
    check: Checker, dataset: str, options: dict, architectures: tuple[str, ...]
) -> None:
    size = resolution_of(dataset, options)
    for arch in architectures:
        supported = getattr(ARCHITECTURES[arch], "resolutions", None)
        if size is not None and supported and size not in supported:
            check.fail(
                "grid.architecture",
                f"{arch!r} does not support {dataset}'s {size}x"
                f"{size} images; it supports: {', '.join(map(str, supported))}",
            )


def check_budget(check: Checker, dataset: str, steps: int, eval_every: int, batch: int) -> None:
    """An evaluation interval inside the run, and at least one batch in the train split."""
    if eval_every > steps:
        check.fail(
            "budget.eval_every",
            f"{eval_every} is more than budget.steps ({steps}), so no evaluation falls between "
            f"step 0 and the end of the run; give eval_every <= {steps} "
            f"(e.g. {max(1, steps // 2)})",
        )
    size = train_size_of(dataset)
    if size is not None and batch > size:
        check.fail(
            "budget.batch_size",
            f"{batch} is more than the {size} images in the train split of {dataset}, so not one "
            f"batch could be drawn; give batch_size <= {size}",
        )


def check_protocol(check: Checker, dataset: str, ev: dict[str, Any], options: dict) -> None:
    """The evaluation protocol must exist before any worker needs it. Networks landscape
    provides are checked without torch-fidelity (importing it, and torchvision with it, takes
    over a second of every `landscape plan`); any other name is looked up in its registry."""
    from landscape.metrics.protocol import built_in_only, round_samples

    samples = ev.get("samples")
    chosen = metrics(check, ev.get("metrics"))
    if built_in_only(ev.get("extractor"), chosen):
        try:
            if samples is not None:
                round_samples(int(samples))
        except (ValueError, TypeError) as error:
            check.fail("evaluation.samples", str(error))
        return
    from landscape.evaluation import protocol_for

    try:
        protocol_for(
            dataset,
            n_samples=None if samples is None else int(samples),
            extractor=ev.get("extractor"),
            data_options=options,
            metrics=chosen,
        )
    except (ValueError, KeyError, TypeError) as error:
        text = str(error).strip("'\"")
        key = "evaluation.metrics" if text.startswith("metric ") else "evaluation.extractor"
        check.fail(key if "extractor" in text else "evaluation.samples", text)


def metrics(check: Checker, names: Any) -> tuple[str, ...] | None:
    """``evaluation.metrics``: a list of METRICS names (None: every default metric). A metric
    that is off by default (``fd_dinov2``) is computed only where it is listed."""
    from landscape.metrics import METRICS

    if names is None:
        return None
    valid = ", ".join(METRICS)
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        check.fail("evaluation.metrics", f"give a list of metric names from: {valid}")
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        check.fail("evaluation.metrics", f"unknown metric {unknown[0]!r}; choose from: {valid}")
    return tuple(n for n in METRICS if n in set(names))
