"""The real-data floor of a protocol in the report: its header line, and the FID every FID
figure draws as a dashed line (``landscape floor DATASET`` computes it; metrics.read_floor)."""

from __future__ import annotations

import math
from typing import Any

LABEL = "real-data floor"


def floor_fid(floor: dict[str, Any] | None) -> float | None:
    """The floor's FID, or None when there is no (finite) one."""
    fid = (floor or {}).get("fid")
    return float(fid) if isinstance(fid, int | float) and math.isfinite(fid) else None


def floor_text(floor: dict[str, Any] | None, info: dict[str, Any], datasets: list[str]) -> str:
    """The header's line: FID (and KID) of real train images against the reference, with the
    counts, and the paper's floor where the protocol is comparable with the paper's; else how
    to compute it."""
    if floor is None or floor_fid(floor) is None:
        return f"no floor computed; run `{floor_command(info, datasets)}`"
    text = f"FID {floor_fid(floor):.2f}"
    if isinstance(floor.get("kid_mean"), int | float):
        text += f", KID {floor['kid_mean']:.4g}"
        if isinstance(floor.get("kid_std"), int | float):
            text += f" ± {floor['kid_std']:.2g}"
    split = floor.get("split", "train")
    reference = floor.get("reference_split", "test")
    text += (
        f" ({floor.get('n_split', '?')} real {split} images vs "
        f"{floor.get('n_reference', '?')} {reference} images)"
    )
    paper = floor.get("paper_fid")
    if paper is not None and floor.get("comparable_with_papers", True):
        text += f"; the paper's floor: FID {paper}"
    return text


def floor_command(info: dict[str, Any], datasets: list[str]) -> str:
    """``landscape floor DATASET`` with the protocol's sample count and extractor, when known."""
    dataset = info.get("dataset") or (datasets[0] if len(datasets) == 1 else "DATASET")
    words = ["landscape", "floor", str(dataset)]
    if info.get("n_fake"):
        words += ["--samples", str(info["n_fake"])]
    if info.get("extractor"):
        words += ["--extractor", str(info["extractor"])]
    return " ".join(words)
