"""What a study will cost: device-hours from measured training speed.

The speeds come from ``bench/train_step.py --record``, which writes ``throughput.json`` beside
this file: steps per second of the training loop per architecture, with the device, versions
and date they were measured on. An estimate is only as good as that measurement, and the plan
says which device it assumes.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from landscape.train import RunSpec

THROUGHPUT = Path(__file__).with_name("throughput.json")


@dataclass(frozen=True)
class Estimate:
    hours: float
    device: str
    unmeasured: tuple[str, ...]  # architectures with no recorded speed


def load_throughput(path: Path = THROUGHPUT) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def estimate(
    runs: list[RunSpec], throughput: dict | None = None, steps_per_second: float | None = None
) -> Estimate:
    """Hours to train ``runs`` one after another on the recorded device (or at the given
    ``steps_per_second``). A recorded speed at another width or batch size is scaled by
    neither: measure the study's own setting for a close estimate."""
    table = throughput if throughput is not None else load_throughput()
    seconds, missing = 0.0, Counter()
    for run in runs:
        speed = steps_per_second or table.get("architectures", {}).get(run.architecture)
        if not speed:
            missing[run.architecture] += 1
            continue
        seconds += run.steps / speed
    return Estimate(
        seconds / 3600,
        "given" if steps_per_second else table.get("device", "?"),
        tuple(sorted(missing)),
    )
