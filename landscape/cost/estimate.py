"""What a study will cost: device-hours of the models actually planned, and how sure that is.

``throughput.json`` beside this file holds measured training speeds, one entry per
architecture, width, batch size, resolution and device (``bench/train_step.py --record``
adds them). Every run is costed from the FLOPs of its own training step (flops.py), divided
by a FLOP rate measured on the device:

- **measured**: an entry for the run's own architecture, width, batch and resolution; its
  FLOPs per step set the rate, so a penalty's extra backward or a larger ``n_disc`` only
  scales the measured speed by the FLOPs it adds;
- **FLOP-scaled**: otherwise the rate of the entry nearest in FLOPs on the same device (small
  models run far below a big model's FLOP rate, so the nearest is the fairest reference).

Evaluations (at step 0, every ``eval_every`` and the end) are costed the same way, from the
FLOPs of generating and featurizing the protocol's fakes. Each part carries a factor it is
typically within (RESULTS.md, "The cost estimate", measured these): the estimate is a range.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import NamedTuple

from landscape.cost.cache import FlopCounts
from landscape.cost.flops import evaluations, image_shape
from landscape.train import RunSpec

THROUGHPUT = Path(__file__).with_name("throughput.json")

# How far off each kind of figure typically is (a factor either way), from bench/plan_cost.py
# and the cross-checks in bench/RESULTS.md ("The cost estimate"). A FLOP-scaled figure's
# factor grows with the distance in FLOPs: 2 x sqrt(FLOPs ratio) (x4.4 at 5x the FLOPs: small
# models spend their time on per-operation overhead, which FLOPs do not see).
FACTORS = {
    "measured": 1.3,
    "FLOP-adjusted": 1.5,
    "FLOP-scaled": 2.0,
    "unrecorded": 1.5,
    "given": 1.5,
}
EVAL_FACTOR = 2.0  # evaluations run at the training FLOP rate here; inference differs


@dataclass(frozen=True)
class Entry:
    """One measured speed: D steps per second of the training loop (bench/train_step.py:
    ns loss, no penalty, no normalization, n_disc 1, z_dim 128, 3-channel images)."""

    architecture: str
    width: float | None  # None: a speed recorded without its setting, taken to fit any
    batch: int | None
    resolution: int | None
    channels: int
    device: str  # the kind: cpu, cuda, mps...
    device_name: str
    steps_per_second: float

    def spec(self, like: RunSpec) -> RunSpec:
        """The run that was timed; ``like`` itself when the setting was not recorded."""
        if self.width is None:
            return like
        return RunSpec(
            dataset="digits",
            architecture=self.architecture,
            width=like.width if self.width is None else self.width,
            batch_size=like.batch_size if self.batch is None else self.batch,
        )

    def shape(self, like: RunSpec) -> tuple[int, int]:
        if self.width is None:
            return image_shape(like)
        return self.channels, self.resolution or image_shape(like)[1]

    def flop_rate(self, like: RunSpec, counts: FlopCounts) -> float:
        return counts.step(self.spec(like), self.shape(like)) * self.steps_per_second

    def fits(self, run: RunSpec) -> bool:
        return (
            self.architecture == run.architecture
            and self.width in (None, run.width)
            and self.batch in (None, run.batch_size)
            and self.resolution in (None, image_shape(run)[1])
            and run.precision == "fp32"  # the bench times fp32; bf16 is scaled, not "measured"
        )

    def label(self) -> str:
        if self.width is None:
            return self.architecture
        return f"{self.architecture} width {self.width:g} batch {self.batch}"


@dataclass
class Line:
    """One architecture's share of the estimate."""

    architecture: str
    runs: int = 0
    train_hours: float = 0.0
    eval_hours: float = 0.0
    low: float = 0.0
    high: float = 0.0
    how: Counter = field(default_factory=Counter)  # "measured", "FLOP-scaled from X"... -> runs
    factor: float = 1.0  # the widest factor of its runs' training figures

    @property
    def hours(self) -> float:
        return self.train_hours + self.eval_hours


@dataclass(frozen=True)
class Estimate:
    lines: tuple[Line, ...]
    device: str
    unmeasured: tuple[str, ...]  # architectures not costed: no entry, or FLOPs not countable
    host_counted: bool = True  # KID's and FID's host arithmetic (False: no host speed recorded)
    reasons: dict[str, str] = field(default_factory=dict)  # why an architecture was not costed

    @property
    def train_hours(self) -> float:
        return sum(line.train_hours for line in self.lines)

    @property
    def eval_hours(self) -> float:
        return sum(line.eval_hours for line in self.lines)

    @property
    def hours(self) -> float:
        return self.train_hours + self.eval_hours

    @property
    def low(self) -> float:
        return sum(line.low for line in self.lines)

    @property
    def high(self) -> float:
        return sum(line.high for line in self.lines)


def load_throughput(path: Path = THROUGHPUT) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def entries(table: dict) -> list[Entry]:
    """The table's entries; a table in the first format (one speed per architecture, the
    setting and device given once) becomes one entry per architecture."""
    names = {f.name for f in fields(Entry)}
    out = [Entry(**{k: v for k, v in e.items() if k in names}) for e in table.get("entries", [])]
    device = table.get("device", "")
    kind, _, name = device.partition(":")
    for arch, speed in table.get("architectures", {}).items():
        width, batch = table.get("width"), table.get("batch")
        out.append(Entry(arch, width, batch, None, 3, kind.strip(), name.strip(), speed))
    return out


def device_kinds(table: dict) -> list[str]:
    """The device kinds with measured speeds, CUDA first (the usual target)."""
    kinds = {e.device for e in entries(table)}
    return sorted(kinds, key=lambda k: (k != "cuda", k))


# The fields the per-run arithmetic reads itself (steps, eval_every), or that no FLOP count,
# speed or reference depends on (flops._shape_key sets these to one value; it also sets the
# precision, but Entry.fits reads that): runs equal in every other field cost the same per step.
PER_RUN = ("loss", "loss_kwargs", "lr", "beta1", "beta2", "seed", "steps", "eval_every")
LABELS = ("study", "origin")


def cost_key(run: RunSpec) -> str:
    """What a run's per-step and per-evaluation cost depends on."""
    skip = PER_RUN + LABELS
    kept = {f.name: getattr(run, f.name) for f in fields(run) if f.name not in skip}
    return json.dumps(kept, sort_keys=True, default=str)


class Price(NamedTuple):
    """The cost of one distinct model: what every run sharing its cost_key has in common."""

    flops: float  # per D step
    rate: float  # FLOPs per second
    how: str
    factor: float
    eval_seconds: float  # per evaluation
    device_name: str  # of the entry the rate came from ("" for a given speed)


def estimate(
    runs: list[RunSpec],
    throughput: dict | None = None,
    steps_per_second: float | None = None,
    device: str | None = None,
    *,
    counts: FlopCounts | None = None,
    per_run: bool = False,
    metrics: tuple[str, ...] | None = None,
) -> Estimate:
    """Device-hours to train and evaluate ``runs`` one after another on ``device`` (a kind
    in the table; default: CUDA when measured, else the first kind recorded), or at the given
    ``steps_per_second`` for every run. Each distinct model (cost_key) is priced once, its FLOPs
    from ``counts`` (default: the counts kept on disk, cache.py); ``per_run`` prices every run
    on its own, as before (bench/plan.py times both; the figures are identical)."""
    table = throughput if throughput is not None else load_throughput()
    counts = counts if counts is not None else FlopCounts.on_disk()
    kinds = device_kinds(table)
    device = device or (kinds[0] if kinds else "?")
    known = [e for e in entries(table) if e.device == device]
    host = table.get("host", {}).get(device)
    lines: dict[str, Line] = {}
    missing, used, reasons = Counter(), set(), {}
    prices: dict[object, Price | str | None] = {}
    for i, run in enumerate(runs):
        key = i if per_run else cost_key(run)
        if key not in prices:
            prices[key] = price(run, counts, known, host, steps_per_second, metrics)
        p = prices[key]
        if not isinstance(p, Price):  # not countable (a reason), or no speed to scale from
            missing[run.architecture] += 1
            if p is not None:
                reasons[run.architecture] = p
            continue
        if not steps_per_second:
            used.add(p.device_name)
        train = run.steps * p.flops / p.rate / 3600
        evals = evaluations(run) * p.eval_seconds / 3600
        line = lines.setdefault(run.architecture, Line(run.architecture))
        line.runs += 1
        line.train_hours += train
        line.eval_hours += evals
        line.low += train / p.factor + evals / EVAL_FACTOR
        line.high += train * p.factor + evals * EVAL_FACTOR
        line.how[p.how] += 1
        line.factor = max(line.factor, p.factor)
    counts.save()
    name = " / ".join(sorted(n for n in used if n))
    shown = f"{device}: {name}" if name else device
    if steps_per_second:
        shown = f"{steps_per_second:g} steps/s"
    return Estimate(tuple(lines.values()), shown, tuple(sorted(missing)), host is not None, reasons)


def price(
    run: RunSpec,
    counts: FlopCounts,
    known: list[Entry],
    host: dict | None,
    steps_per_second: float | None,
    metrics: tuple[str, ...] | None = None,
) -> Price | str | None:
    """``run``'s cost per step and per evaluation; a reason when its FLOPs cannot be counted,
    None when no measured speed is there to scale from."""
    try:
        flops = counts.step(run)
    except Exception as error:  # e.g. a plugin architecture that cannot be built on meta
        return f"FLOPs not countable: {type(error).__name__}: {error}"
    if steps_per_second:
        rate, how, factor, name = flops * steps_per_second, "given", FACTORS["given"], ""
    else:
        ref, how = reference(run, flops, known, counts)
        if ref is None:
            return None
        rate, factor, name = ref.flop_rate(run, counts), FACTORS[how.split(" ")[0]], ref.device_name
        if how.startswith("FLOP-scaled"):
            distance = counts.step(ref.spec(run), ref.shape(run)) / flops
            factor *= math.sqrt(max(distance, 1 / distance))
    return Price(flops, rate, how, factor, eval_seconds(run, rate, host, counts, metrics), name)


def eval_seconds(
    run: RunSpec,
    rate: float,
    host: dict | None,
    counts: FlopCounts | None = None,
    metrics: tuple[str, ...] | None = None,
) -> float:
    """One evaluation: generating and featurizing the fakes at the device's FLOP ``rate``,
    plus KID's and FID's float64 arithmetic at the host speeds measured beside the device
    (``host``: seconds per kernel element, FLOPs per second; none recorded: not counted),
    computing the study's ``metrics`` (None: the default ones), each network once."""
    counts = counts if counts is not None else FlopCounts()
    seconds = counts.eval(run, metrics) / rate
    if host:
        elements, flops = counts.host(run, metrics)
        seconds += elements * host["seconds_per_element"] + flops / host["flops_per_second"]
    return seconds


def reference(
    run: RunSpec, flops: float, known: list[Entry], counts: FlopCounts | None = None
) -> tuple[Entry | None, str]:
    """The entry to take ``run``'s FLOP rate from, and how: its own measured setting, else
    the entry nearest in FLOPs per step (ties: the same architecture)."""
    counts = counts if counts is not None else FlopCounts()
    own = [e for e in known if e.fits(run)]
    if own:
        ref = own[0]
        if ref.width is None:
            return ref, "unrecorded"
        same = math.isclose(counts.step(ref.spec(run), ref.shape(run)), flops, rel_tol=0.02)
        return ref, "measured" if same else "FLOP-adjusted"
    if not known:
        return None, ""

    def distance(e: Entry) -> tuple[float, bool]:
        ratio = counts.step(e.spec(run), e.shape(run)) / flops
        return abs(math.log(ratio)), e.architecture != run.architecture

    ref = min(known, key=distance)
    return ref, f"FLOP-scaled from {ref.label()}"


WORDS = {
    "measured": "measured",
    "FLOP-adjusted": "measured, FLOP-scaled for penalty/n_disc/z_dim",
    "FLOP-scaled": "FLOP-scaled",
    "unrecorded": "a speed recorded without its width and batch",
    "given": "the --steps-per-second given",
}


def describe(line: Line) -> str:
    """How a line's figure was reached and how far off it typically is, e.g. ``FLOP-scaled
    from sndcgan width 1 batch 64, typically within x2`` (run counts when mixed)."""
    parts = []
    for how, n in sorted(line.how.items(), key=lambda kv: -kv[1]):
        kind, _, rest = how.partition(" ")
        text = f"{WORDS.get(kind, kind)} {rest}".strip()
        parts.append(text if len(line.how) == 1 else f"{text} ({n} runs)")
    return f"{'; '.join(parts)}; typically within x{line.factor:.2g}"


def duration(hours: float) -> str:
    """``40 s``, ``12 min`` or ``3.4 h``: small plans are not all ``0.00 h``."""
    if hours < 1 / 60:
        return f"{hours * 3600:.0f} s"
    if hours < 1:
        return f"{hours * 60:.0f} min"
    return f"{hours:,.1f} h"
