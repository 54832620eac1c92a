"""The one training loop: a resolved RunSpec in, a trained and evaluated run folder out.

``train`` reads top to bottom in four labelled phases: check the folder, build (data, G, D,
the update), open the run (config, resume), step. What one step does is ``GanUpdate``
(update.py); when the loop evaluates, logs and checkpoints is ``Schedule`` (schedule.py):
evaluations at step 0, every ``eval_every`` D steps and at the end, checkpoints every
``checkpoint_every`` steps and when a stop is asked for (SIGTERM or SIGINT, or the caller's
``stop`` event: a worker owns its signals, execution/signals.py). NaN or inf ends the run as
``diverged``: a result, not an exception.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from landscape.data import ImageData, load, to_unit_range
from landscape.handlers import handling
from landscape.records import (
    DEFAULT_KEEP_GENERATORS,
    KEEP_GENERATORS,
    Status,
    best_evaluation,
    protocol_name,
)
from landscape.train.batches import BatchStream
from landscape.train.checkpoint import (
    resume,
    rng_state,
    save_checkpoint,
    save_generator,
    seed_everything,
    set_rng_state,
)
from landscape.train.precision import float32_mode
from landscape.train.records import (
    ForeignRunFolder,
    RunFolder,
    append_jsonl,
    read_jsonl,
    write_json,
)
from landscape.train.samples import save_sample_grid
from landscape.train.schedule import Clock, Schedule
from landscape.train.spec import RunSpec
from landscape.train.update import GanUpdate
from landscape.train.watch import Watch
from landscape.variants import ARCHITECTURES, PENALTIES, Generator

EvalHook = Callable[[Generator], dict[str, Any]]
# Asked after each evaluation between step 0 and the end with (step, scores): True stops the run
# there as ``pruned`` (a search trial the pruner gave up on), after a checkpoint.
PruneHook = Callable[[int, dict[str, Any]], bool]


@dataclass(frozen=True)
class RunResult:
    run_id: str
    status: str  # ok | diverged | interrupted | pruned
    step: int
    diverged_at: int | None
    wall_time: float
    path: Path


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """CUDA when present, else CPU; an explicit choice wins."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def train(
    spec: RunSpec,
    run_dir: str | Path,
    *,
    device: str | torch.device | None = None,
    evaluate: EvalHook | None = None,
    data: ImageData | None = None,
    data_root: str | Path | None = None,
    checkpoint_every: int = 1000,
    log_every: int = 100,
    progress: bool = True,
    channels_last: bool = False,
    compile: bool = False,
    keep_generators: str = DEFAULT_KEEP_GENERATORS,
    stop: threading.Event | None = None,
    prune: PruneHook | None = None,
) -> RunResult:
    """Train ``spec`` in ``run_dir``; resumes an interrupted run, returns a finished one at once.

    ``channels_last`` and ``compile`` (``torch.compile``) change speed, not the run (they are
    not part of its id); bench/train_step.py measures what they buy on a device.
    ``keep_generators`` (records.KEEP_GENERATORS): G is kept at its best evaluation
    (``generators/best.pt``), and with ``every`` at each evaluation too. ``stop``, when given,
    is the caller's: once set, the run checkpoints at the current step and returns as
    interrupted (the caller then handles the signals); without it SIGTERM / SIGINT do that."""
    if keep_generators not in KEEP_GENERATORS:
        raise ValueError(
            f"keep_generators = {keep_generators!r}; choose from: {', '.join(KEEP_GENERATORS)}"
        )
    # 1. The folder: another run's is refused untouched; a finished run is returned as it is.
    folder = RunFolder(Path(run_dir))
    _check_same_run(folder, spec)
    if folder.finished():
        return _result(spec, folder, folder.status())

    # 2. Build, writing nothing yet: data, G and D (seeded), the update rule, the batches.
    device = pick_device(device)
    data = data or load(spec.dataset, "train", root=data_root, **spec.data_options)
    seed_everything(spec.seed)
    G, D = _build_models(spec, data, device, channels_last, compile)
    memory = torch.channels_last if channels_last else torch.contiguous_format
    update = GanUpdate(spec, G, D, device)
    batches = BatchStream(data.images.to(device), spec.batch_size, spec.seed)

    # 3. Open the run: config.json before step 1, then the latest readable checkpoint.
    folder.path.mkdir(parents=True, exist_ok=True)
    if not folder.config.exists():
        write_json(folder.config, spec.to_dict())
    state = {"G": G, "D": D, "opt_g": update.opt_g, "opt_d": update.opt_d}
    resumed = resume(folder.checkpoint, state, device)  # an unreadable one falls back
    start, wall = 0, 0.0
    if resumed.payload is not None:
        start, wall = resumed.payload["step"], resumed.payload["wall_time"]
    note = resumed.note
    if note:
        warnings.warn(f"run {spec.run_id}: {note}", RuntimeWarning, stacklevel=2)
    clock = Clock(wall)
    folder.set_status(
        status=Status.RUNNING.value,
        step=start,
        steps=spec.steps,
        diverged_at=None,
        wall_time=wall,
        error=None,
        note=note,
    )

    # 4. Step. Evaluate at step 0, log, evaluate and checkpoint as the schedule says; stop
    # (with a checkpoint) on SIGTERM/SIGINT; NaN or inf ends the run as "diverged".
    schedule = Schedule(
        steps=spec.steps,
        eval_every=spec.eval_every,
        checkpoint_every=checkpoint_every,
        log_every=log_every,
        sync_every=1 if device.type == "cpu" else log_every,  # a GPU sync every step is slow
    )
    keep = _Keep(keep_generators, [data.channels, data.resolution, data.resolution])
    first_bad = torch.tensor(-1, device=device)  # 1-based step of the first non-finite output
    bar = _progress_bar(spec, start, progress)
    watch = Watch(spec.run_id, folder.path, start, spec.steps, bar=progress, models=(G, D))
    with float32_mode(spec.precision), _stop_requests(stop) as stop, bar, closing(watch):
        if start == 0:
            _evaluate(folder, G, evaluate, 0, clock, keep, watch)
        for step in range(start, spec.steps):
            if stop.is_set():
                _checkpoint(folder, state, batches, step, clock)
                return _finish(spec, folder, Status.INTERRUPTED, step, None, clock(), note)
            real = batches(step).to(device, non_blocking=True)  # no-op when already there
            out = update(step, to_unit_range(real).contiguous(memory_format=memory))
            first_bad = torch.where((first_bad < 0) & ~out.finite, step + 1, first_bad)
            done = step + 1
            if schedule.checks_divergence(done) and (bad := int(first_bad)) >= 0:
                _log(folder, bar, out, done, clock(), watch)
                return _finish(spec, folder, Status.DIVERGED, bad - 1, bad, clock(), note)
            if schedule.logs(done):
                _log(folder, bar, out, done, clock(), watch)
            if schedule.evaluates(done):
                scores = _evaluate(folder, G, evaluate, done, clock, keep, watch)
                if prune is not None and done < spec.steps and prune(done, scores):
                    _checkpoint(folder, state, batches, done, clock)
                    return _finish(spec, folder, Status.PRUNED, done, None, clock(), note)
            if schedule.checkpoints(done):
                _checkpoint(folder, state, batches, done, clock)
    return _finish(spec, folder, Status.OK, spec.steps, None, clock(), note)


def _build_models(
    spec: RunSpec, data: ImageData, device: torch.device, channels_last: bool, compile: bool
) -> tuple[Generator, torch.nn.Module]:
    """G and D for the data's size, on ``device``; optionally channels-last and compiled."""
    G, D = ARCHITECTURES[spec.architecture](
        resolution=data.resolution,
        channels=data.channels,
        norm=spec.normalization,
        z_dim=spec.z_dim,
        width=spec.width,
    )
    G, D = G.to(device), D.to(device)
    if channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    if compile:
        G.compile()  # in place: the state dict (and so the checkpoint) keeps its keys
        # torch.compile cannot backpropagate twice, which penalties on D's input gradient need
        if not getattr(PENALTIES[spec.penalty], "needs_input_grad", True):
            D.compile()
    return G, D


def _checkpoint(
    folder: RunFolder, state: dict, batches: BatchStream, step: int, clock: Clock
) -> None:
    extra = {"wall_time": clock(), "data_position": batches.position(step)}
    save_checkpoint(folder.checkpoint, step=step, modules=state, extra=extra)


def _evaluate(
    folder: RunFolder,
    G: Generator,
    evaluate: EvalHook | None,
    step: int,
    clock: Clock,
    keep: _Keep,
    watch: Watch | None = None,
) -> dict[str, Any]:
    """A sample grid and the scores at ``step``, without moving the training RNG streams; G is
    kept when this is its best evaluation so far (or at every one, as asked)."""
    started, time_at = time.monotonic(), clock()
    with _rng_preserved():
        save_sample_grid(G, folder.samples / f"step_{step:07d}.png")
        scores = evaluate(G) if evaluate else {}
    seconds = round(time.monotonic() - started, 3)
    record = {"step": step, "time": time_at, "eval_seconds": seconds, **scores}
    append_jsonl(folder.eval_log, record)
    _keep_generator(folder, G, record, keep)
    if watch is not None:
        watch.evaluation(step, scores)
    return scores


@dataclass(frozen=True)
class _Keep:
    which: str  # records.KEEP_GENERATORS
    image_shape: list[int]  # C, H, W: G is rebuilt from the file without loading the data


def _keep_generator(folder: RunFolder, G: Generator, record: dict, keep: _Keep) -> None:
    """G at this evaluation, written after its record: ``best.pt`` when the record is now the
    best of its protocol (the earliest on ties, as the score rule says), and under ``every`` a
    file per step. A run resumed past its best step keeps the best.pt written then."""
    step = record["step"]
    extra = {"fid": record.get("fid"), "protocol": protocol_name(record)}
    extra["image_shape"] = keep.image_shape
    if keep.which == "every":
        save_generator(folder.generator_at(step), G, step=step, extra=extra)
    best = best_evaluation(read_jsonl(folder.eval_log), protocol_name(record))
    if best is not None and best["step"] == step:
        save_generator(folder.best_generator, G, step=step, extra=extra)


def _progress_bar(spec: RunSpec, start: int, progress: bool) -> tqdm:
    return tqdm(
        total=spec.steps,
        initial=start,
        disable=not progress,
        unit="step",
        dynamic_ncols=True,
        mininterval=1.0,
        desc=spec.run_id,
    )


def _log(
    folder: RunFolder, bar: tqdm, out, step: int, elapsed: float, watch: Watch | None = None
) -> None:
    record = {
        "step": step,
        "loss_d": float(out.loss_d),
        "loss_g": float(out.loss_g),
        "penalty": float(out.penalty),
        "time": elapsed,
    }
    append_jsonl(folder.train_log, record)
    bar.set_postfix(d=f"{record['loss_d']:.3f}", g=f"{record['loss_g']:.3f}", refresh=False)
    bar.update(step - bar.n)
    if watch is not None:
        watch.train(step, record, out)


def _finish(
    spec: RunSpec,
    folder: RunFolder,
    status: Status,
    step: int,
    diverged_at: int | None,
    wall: float,
    note: str | None,
) -> RunResult:
    folder.set_status(
        status=status,
        step=step,
        steps=spec.steps,
        diverged_at=diverged_at,
        wall_time=wall,
        error=None,
        note=note,  # how this session resumed, when not from the latest checkpoint
    )
    return RunResult(spec.run_id, status, step, diverged_at, wall, folder.path)


def _result(spec: RunSpec, folder: RunFolder, status: dict[str, Any]) -> RunResult:
    return RunResult(
        spec.run_id,
        status["status"],
        status["step"],
        status.get("diverged_at"),
        status.get("wall_time", 0.0),
        folder.path,
    )


def _check_same_run(folder: RunFolder, spec: RunSpec) -> None:
    """Never train a different run into a folder that holds one (results are not overwritten):
    its config.json must name this run_id and describe this run."""
    if not folder.config.exists():
        return
    try:
        config = json.loads(folder.config.read_text())
        held = RunSpec.from_record(config)
    except (ValueError, TypeError, KeyError) as error:
        raise ForeignRunFolder(
            f"{folder.config} cannot be read as a run's config ({error}); it is left as it is: "
            f"choose another folder for run {spec.run_id}"
        ) from None
    if config.get("run_id") != spec.run_id or held.run_id != spec.run_id:
        raise ForeignRunFolder(
            f"{folder.path} holds run {config.get('run_id')}, not {spec.run_id}; it is left "
            f"as it is: choose another folder"
        )


@contextmanager
def _rng_preserved():
    """Evaluation must not shift the training RNG streams, or resumed runs would differ."""
    state = rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


@contextmanager
def _stop_requests(given: threading.Event | None = None):
    """SIGTERM / SIGINT set an event the loop checks between steps (it then checkpoints); a
    caller's event is used as it is, and the signals are left to the caller."""
    if given is not None:
        yield given
        return
    stop = threading.Event()

    def request(signum, frame):
        if stop.is_set():  # a second signal: stop now
            raise KeyboardInterrupt
        stop.set()

    with handling((signal.SIGTERM, signal.SIGINT), request):
        yield stop
