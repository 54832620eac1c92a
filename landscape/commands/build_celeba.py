"""Build CelebA-HQ-128 as the paper did: the 1024x1024 CelebA-HQ images (PGGAN's
``dataset_tool.py create_celebahq``; files in CelebA-HQ order, e.g. 0.jpg ... 29999.jpg or
imgHQ00000.npy ...) reduced by PGGAN's box filter to 128x128 PNGs in DST, named 00000.png ...
in that order. The last 3,000 (27,000-29,999) are the test split, as compare_gan's shards 90-99.

Example: landscape build-celeba-hq ~/celeba-hq-1024 ~/.cache/landscape/data/celeba_hq_128
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from landscape.data.celeba_hq import SIZE, TEST_FRACTION, build_celeba_hq

HELP = "make the 128x128 CelebA-HQ folder from the 1024x1024 images (PGGAN's box filter)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", type=Path, help="folder of the 1024x1024 CelebA-HQ images")
    parser.add_argument("dst", type=Path, help="output folder, <data root>/celeba_hq_128")
    parser.add_argument("--jobs", type=int, default=None, help="threads (default: all cores)")


def run(args: argparse.Namespace) -> int:
    def progress(done: int, total: int) -> None:
        if done % 1000 == 0 or done == total:
            print(f"{done}/{total} images", file=sys.stderr)

    outputs = build_celeba_hq(args.src, args.dst, size=SIZE, jobs=args.jobs, progress=progress)
    n_test = max(1, round(len(outputs) * TEST_FRACTION))
    print(
        f"wrote {len(outputs)} {SIZE}x{SIZE} images to {args.dst}; test split: the last "
        f"{n_test} ({outputs[-n_test].name} ... {outputs[-1].name}); sources in SOURCES.txt"
    )
    if len(outputs) != 30_000:
        print(f"note: CelebA-HQ has 30,000 images, {args.src} held {len(outputs)}")
    return 0
