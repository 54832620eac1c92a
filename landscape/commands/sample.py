"""Write a run's images for outside evaluators (clean-fid, dgm-eval, torch-fidelity on folders):
PNG files or one ``samples.npz`` (uint8, N x H x W x C, under ``arr_0``), from the generator at
its best evaluation (or a step it kept), with ``sample.json`` beside them saying which run,
step, seed and file they came from.

Given a study's results folder, the run sampled is its best: among its finished runs trained
under the current training protocol, the one with the lowest best FID under the protocol it
was trained with (the smallest run id on ties).

Example: landscape sample results/quickstart --n 50000 --out samples --format npz
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from landscape.errors import UserError
from landscape.plugins import load_recorded
from landscape.records import PROTOCOL_VERSION, RUNS_DIR, SCORED, RunFiles, is_score, run_score

HELP = "write a run's images (its best or a kept generator) as PNG files or one npz"
FORMATS = ("png", "npz")
NPZ = "samples.npz"
SAMPLE_JSON = "sample.json"
BATCH = 64  # as the evaluation protocol draws them
DEFAULT_SEED = 42  # the evaluation's z seed (PAPER.md 7): the first fakes are those it scored


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, help="a run folder, or a study's results folder")
    parser.add_argument("--n", type=int, default=50_000, help="how many images (default 50000)")
    parser.add_argument("--out", type=Path, required=True, help="a new or empty folder")
    parser.add_argument("--format", choices=FORMATS, default="png")
    parser.add_argument("--step", default="best", help="best (default) or a step G was kept at")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="z's seed (default 42)")
    parser.add_argument("--device", help="cuda, cuda:1 or cpu (default: CUDA when present)")
    parser.add_argument("--data-root", type=Path, help="data sets' folder, for old run folders")


def run(args: argparse.Namespace) -> int:
    from landscape.train import RunSpec, pick_device
    from landscape.train.kept import NotKept, build_generator, generator_at
    from landscape.train.records import RunFolder, read_json

    if args.n < 1:
        raise UserError(f"--n {args.n}: give 1 or more images")
    if args.step != "best" and not str(args.step).isdigit():
        raise UserError(f"--step {args.step!r}: give best or a step number")
    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        raise UserError(f"--out {args.out}: not an empty folder; samples never overwrite files")
    folder = RunFolder(chosen_run(args.source))
    load_recorded([folder.path], lambda line: print(line, file=sys.stderr))
    spec = RunSpec.from_record(read_json(folder.config))
    try:
        step, path = generator_at(folder, None if args.step == "best" else int(args.step))
    except NotKept as error:
        raise UserError(str(error)) from None
    device = pick_device(args.device)
    G, _ = build_generator(spec, path, data_root=args.data_root, device=device)
    args.out.mkdir(parents=True, exist_ok=True)
    shape = write_samples(G, args.n, args.seed, args.out, args.format)
    record = {
        "run_id": spec.run_id,
        "study": spec.study,
        "step": step,
        "generator": str(path.resolve()),
        "seed": args.seed,
        "n": args.n,
        "format": args.format,
        "images": NPZ if args.format == "npz" else "%06d.png",
        "image_shape_hwc": shape,
        "z": f"G.eval(), z ~ U(-1,1) from torch.Generator seed {args.seed}, batches of {BATCH}",
        "pixels": "uint8: round(255 x G's [0, 1] output)",
    }
    (args.out / SAMPLE_JSON).write_text(json.dumps(record, indent=2) + "\n")
    print(f"{args.n} images of run {spec.run_id} at step {step} in {args.out}")
    return 0


def chosen_run(source: Path) -> Path:
    """``source`` when it is a run folder; for a results folder, its best run (module doc)."""
    if (source / RunFiles.CONFIG).is_file():
        return source
    runs = source / RUNS_DIR
    if not runs.is_dir():
        raise UserError(f"{source}: neither a run folder ({RunFiles.CONFIG}) nor a results folder")
    best: tuple[float, str] | None = None
    for path in sorted(p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")):
        config, status = _read(path / RunFiles.CONFIG), _read(path / RunFiles.STATUS)
        if config.get("protocol_version", 1) != PROTOCOL_VERSION:
            continue
        if status.get("status") not in SCORED:
            continue
        from landscape.train.records import read_jsonl

        score = run_score(read_jsonl(path / RunFiles.EVAL_LOG))
        if is_score(score) and (best is None or (score, path.name) < best):
            best = (score, path.name)
    if best is None:
        raise UserError(f"{source}: no finished run with a usable FID to sample from")
    return runs / best[1]


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def write_samples(G, n: int, seed: int, out: Path, fmt: str) -> list[int]:
    """``n`` images of G (eval mode, z from ``seed``) as PNGs or one npz; returns H, W, C."""
    import numpy as np
    import torch
    from PIL import Image

    device = next(G.parameters()).device
    z = G.sample_z(n, device=device, generator=torch.Generator(device).manual_seed(seed))
    batches = []
    for i, zb in enumerate(z.split(BATCH)):
        with torch.no_grad():
            x = G(zb).clamp(0, 1).mul(255).round().to(torch.uint8)
        x = x.permute(0, 2, 3, 1).cpu().numpy()  # N H W C
        if fmt == "npz":
            batches.append(x)
            continue
        for j, image in enumerate(x):
            pil = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
            pil.save(out / f"{i * BATCH + j:06d}.png")
    if fmt == "npz":
        np.savez(out / NPZ, np.concatenate(batches))
    return list(x.shape[1:])
