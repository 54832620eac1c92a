"""Compute and cache a data set's reference statistics ahead of a study."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "cache the reference statistics (real-image features) of a data set"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="a data set name (see DATASETS)")
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--device", default=None)
    parser.add_argument("--samples", type=int, help="override the protocol's sample count")
    parser.add_argument("--extractor", help="override the protocol's feature extractor")


def run(args: argparse.Namespace) -> int:
    from landscape.metrics import prepare_stats
    from landscape.train import pick_device

    path = prepare_stats(
        args.dataset,
        data_root=args.data_root,
        device=str(pick_device(args.device)),
        n_samples=args.samples,
        extractor=args.extractor,
    )
    print(f"reference statistics: {path}")
    return 0
