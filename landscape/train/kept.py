"""The generators a run kept (``generators/``, docs/results-layout.md): which steps, which file
holds G at a step, and G rebuilt from one, for `landscape evaluate` and `landscape sample`.

A folder written before generators were kept has only its latest checkpoint (and the one
before it): G at a step is read from it when it is that step's, and otherwise the step cannot
be recovered, which ``NotKept`` says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from landscape.records import best_evaluation, generator_file
from landscape.train.checkpoint import load_generator, previous_path
from landscape.train.records import RunFolder, read_jsonl
from landscape.train.spec import RunSpec
from landscape.variants import ARCHITECTURES, Generator


class NotKept(ValueError):
    """No generator of the asked step was kept."""


def every_kept(folder: RunFolder) -> list[tuple[int, Path]]:
    """(step, file) of G at every evaluation (``keep_generators: every``); [] otherwise."""
    pattern = generator_file(0).replace("0" * 7, "*")
    return sorted((int(p.stem.split("_")[1]), p) for p in folder.generators.glob(pattern))


def best_step(folder: RunFolder) -> int:
    """The step of the run's best evaluation under the protocol it was trained with."""
    best = best_evaluation(read_jsonl(folder.eval_log))
    if best is None:
        raise NotKept("no evaluation with a usable FID, so no best step")
    return int(best["step"])


def generator_at(folder: RunFolder, step: int | None = None) -> tuple[int, Path]:
    """(step, file holding G at it); ``step`` None is the best step. Looks in the kept step
    files, ``best.pt``, then the latest checkpoints (a folder from before G was kept)."""
    step = best_step(folder) if step is None else int(step)
    candidates = [folder.generator_at(step), folder.best_generator, folder.checkpoint]
    for path in [*candidates, previous_path(folder.checkpoint)]:
        if path.exists() and step_of(path) == step:
            return step, path
    kept = sorted({s for s, _ in every_kept(folder)} | _single_steps(folder))
    raise NotKept(
        f"no generator of step {step} was kept in {folder.path} (kept: steps "
        f"{', '.join(map(str, kept)) or 'none'}): it cannot be scored or sampled at that step"
    )


def _single_steps(folder: RunFolder) -> set[int]:
    paths = [folder.best_generator, folder.checkpoint, previous_path(folder.checkpoint)]
    return {step_of(p) for p in paths if p.exists()}


def step_of(path: Path) -> int:
    return int(_payload(path)["step"])


def _payload(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=False)


def build_generator(
    spec: RunSpec, path: Path, *, data_root: str | Path | None = None, device: Any = "cpu"
) -> tuple[Generator, dict[str, Any]]:
    """G of ``spec`` with the weights kept in ``path`` (a kept generator or a checkpoint), in
    eval mode on ``device``; returns it and the file's payload."""
    payload = _payload(path)
    shape = payload.get("image_shape") or image_shape(spec, data_root)
    G, _ = ARCHITECTURES[spec.architecture](
        resolution=shape[1],
        channels=shape[0],
        norm=spec.normalization,
        z_dim=spec.z_dim,
        width=spec.width,
    )
    load_generator(path, G, "cpu")
    return G.to(device).eval(), payload


def image_shape(spec: RunSpec, data_root: str | Path | None = None) -> list[int]:
    """(channels, height, width) of the run's images, read from its data set's test split."""
    from landscape.data import load

    data = load(spec.dataset, "test", root=data_root, **spec.data_options)
    return [data.channels, data.resolution, data.resolution]
