"""Write synthetic results folders that follow docs/results-layout.md, for the analysis and
report tests and the report benchmark. No torch: configs, JSON lines, PNG sample grids.

``write_run`` writes one run exactly as given; ``fake_study`` writes a whole study whose FIDs
follow a simple made-up model (better normalizations and penalties score lower), with some
runs diverged, failed, still running and not started.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from landscape.records import PROTOCOL_VERSION, SENTINEL, Origin

PROTOCOL = {
    "name": "cifar10-test-10k-inception",
    "extractor": "inception-v3-compat",
    "n_fake": 10000,
    "n_real": 10000,
    "reference": "cifar10/test",
    "versions": {"torch": "2.5.0", "torch_fidelity": "0.3.0"},
}
DEFAULTS: dict[str, Any] = {
    "study": "fake",
    "origin": str(Origin.grid("default")),
    "dataset": "cifar10",
    "data_options": {},
    "architecture": "resnet_cifar",
    "loss": "ns",
    "penalty": "none",
    "normalization": "none",
    "loss_kwargs": {},
    "penalty_weight": 1.0,
    "lr": 2e-4,
    "beta1": 0.5,
    "beta2": 0.999,
    "n_disc": 5,
    "batch_size": 64,
    "z_dim": 128,
    "width": 1.0,
    "steps": 2000,
    "eval_every": 500,
    "seed": 0,
    "protocol_version": PROTOCOL_VERSION,  # as RunSpec.to_dict writes it
    "protocol": PROTOCOL["name"],
}
ADAM = ((0.5, 0.9, 5), (0.5, 0.999, 1), (0.5, 0.999, 5), (0.9, 0.999, 5))  # beta1, beta2, n_disc
GRID = [  # PAPER.md 6, Table 1 (reconstructed): lr x lambda x (beta1, beta2, n_disc)
    {"lr": lr, "penalty_weight": lam, "beta1": b1, "beta2": b2, "n_disc": nd}
    for lr, lam, (b1, b2, nd) in itertools.product((2e-4, 1e-4, 1e-3), (1.0, 10.0), ADAM)
]
EFFECT = {  # made-up FID offsets: the "truth" the fake study's figures should show
    "loss": {"ns": 0.0, "wgan": 4.0, "ls": 7.0, "hinge": 2.0, "mm": 12.0},
    "penalty": {"gp": 0.0, "none": 6.0, "dragan": 3.0, "l2": 10.0},
    "normalization": {"sn": 0.0, "ln": 4.0, "bn": 8.0, "none": 12.0},
    "architecture": {"resnet_cifar": 0.0, "sndcgan": 3.0},
}


def run_id_of(config: dict[str, Any]) -> str:
    """A short hash of the config without study and origin (like the runner's run_id)."""
    key = {k: v for k, v in config.items() if k not in ("study", "origin", "run_id")}
    return hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]


def make_config(**overrides: Any) -> dict[str, Any]:
    """A complete config.json dict: DEFAULTS updated by ``overrides``, with its run_id."""
    config = {**DEFAULTS, **overrides}
    config.setdefault("run_id", run_id_of(config))
    return config


def write_run(
    study_dir: Path,
    config: dict[str, Any],
    evals: Iterable[dict[str, Any]] = (),
    status: dict[str, Any] | None = None,
    *,
    protocol: dict[str, Any] | None = None,
    samples: Sequence[int] = (),
    torn_line: bool = False,
) -> Path:
    """Write one run folder; ``status`` None leaves status.json out (a pending run)."""
    folder = Path(study_dir) / "runs" / config["run_id"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    protocol = protocol or PROTOCOL
    lines = [json.dumps({**row, "protocol": protocol}) for row in evals]
    if lines or torn_line:
        text = "".join(line + "\n" for line in lines)
        (folder / "evals.jsonl").write_text(text + ('{"step": 99, "fi' if torn_line else ""))
    if status is not None:
        (folder / "status.json").write_text(json.dumps(status))
    for step in samples:
        write_sample(
            folder / "samples" / f"step_{step:07d}.png", seed=int(config["run_id"][:8], 16) + step
        )
    return folder


def write_sample(path: Path, seed: int = 0, tiles: int = 4, size: int = 16) -> None:
    """A small PNG grid of ``tiles`` x ``tiles`` blurry colour blobs."""
    rng = np.random.default_rng(abs(seed))
    low = rng.integers(0, 256, (tiles * 4, tiles * 4, 3), dtype=np.uint8)
    image = Image.fromarray(low).resize((tiles * size, tiles * size), Image.Resampling.BILINEAR)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def eval_rows(final: float, steps: int, every: int, stop: int | None = None, **kw: Any) -> list:
    """Evaluations at 0, every, ..., steps (or up to ``stop``): FID falls from ~350 to ``final``.
    ``kw`` may set ``diverge_at`` (a step whose evaluation records the sentinel)."""
    diverge_at = kw.get("diverge_at")
    rows = []
    for step in range(0, steps + 1, every):
        if stop is not None and step > stop:
            break
        if diverge_at is not None and step >= diverge_at:
            rows.append({"step": step, **dict.fromkeys(_METRICS, SENTINEL), "time": step / 10})
            break
        fid = final + (350.0 - final) * np.exp(-4.0 * step / steps)
        rows.append(
            {
                "step": step,
                "fid": fid,
                "is_mean": 1.0 + 250.0 / fid,
                "is_std": 0.0,
                "kid_mean": fid / 2000.0,
                "kid_std": 0.001,
                "ms_ssim": None,
                "time": step / 10,
            }
        )
    return rows


_METRICS = ("fid", "is_mean", "is_std", "kid_mean", "kid_std")


def fake_study(
    root: Path,
    name: str = "fake",
    *,
    axes: dict[str, Sequence[str]] | None = None,
    grid: int = 3,
    search: int = 2,
    seeds: int = 2,
    evals: int = 5,
    diverged: float = 0.1,
    failed: float = 0.03,
    running: int = 1,
    pending: int = 1,
    samples: str = "last",
    protocol: dict[str, Any] | None = None,
    seed: int = 0,
) -> Path:
    """Write ``root/name``: for every combination of ``axes`` values, ``grid`` fixed settings x
    ``seeds`` and ``search`` one-seed proposals; ``samples`` is "all", "last" or "none"."""
    rng = np.random.default_rng(seed)
    axes = axes or {
        "loss": ("ns", "wgan"),
        "penalty": ("none", "gp"),
        "normalization": ("none", "sn"),
    }
    protocol = protocol or PROTOCOL
    study_dir = Path(root) / name
    study_dir.mkdir(parents=True, exist_ok=True)
    (study_dir / "study.yaml").write_text(f"name: {name}\naxes: {json.dumps(dict(axes))}\n")
    steps, every = 500 * (evals - 1), 500
    plan = []
    for values in itertools.product(*axes.values()):
        variant = dict(zip(axes, values, strict=True))
        for g in range(grid):
            origin = str(Origin.grid(f"g{g}"))
            plan += [(variant, {**GRID[g % len(GRID)], "origin": origin}, s) for s in range(seeds)]
        cell = "-".join(values)  # one search per variant, like the planner's scope "cell"
        for trial in range(search):
            lr = float(10 ** rng.uniform(-5, -2))
            origin = str(Origin.search(cell, trial))
            plan.append((variant, {"lr": lr, "beta1": float(rng.uniform()), "origin": origin}, 0))
    picks = [int(i) for i in rng.permutation(len(plan))[: running + pending]]
    running_ids, pending_ids = set(picks[:running]), set(picks[running:])
    for i, (variant, hyper, s) in enumerate(plan):
        config = make_config(
            study=name,
            protocol=protocol["name"],
            steps=steps,
            eval_every=every,
            seed=s,
            **variant,
            **hyper,
        )
        base = 20.0 + sum(EFFECT.get(a, {}).get(v, 5.0) for a, v in variant.items())
        final = base + 15.0 * abs(np.log10(config["lr"] / 2e-4)) + rng.normal(0, 1.5)
        status = {
            "status": "ok",
            "step": steps,
            "steps": steps,
            "diverged_at": None,
            "wall_time": float(rng.uniform(50, 100)),
            "error": None,
        }
        stop = diverge_at = None
        draw = rng.uniform()
        if i in pending_ids:
            status = None
        elif i in running_ids:
            stop = steps // 2
            status.update(status="running", step=stop)
        elif draw < diverged:
            diverge_at = every * int(rng.integers(1, evals))
            status.update(status="diverged", step=diverge_at, diverged_at=diverge_at)
        elif draw < diverged + failed:
            stop = every
            status.update(
                status="failed", step=every, error="RuntimeError: CUDA error: out of memory"
            )
        rows = [] if status is None else eval_rows(final, steps, every, stop, diverge_at=diverge_at)
        shots = [r["step"] for r in rows] if samples == "all" else [r["step"] for r in rows[-1:]]
        write_run(
            study_dir,
            config,
            rows,
            status,
            protocol=protocol,
            samples=shots if samples != "none" else (),
        )
    return study_dir
