"""The flags that choose an evaluation protocol and where its data and cache live, shared by the
commands that compute real-image statistics (`prepare-stats`, `floor`). Torch-free."""

from __future__ import annotations

import argparse


def add_protocol_arguments(
    parser: argparse.ArgumentParser, *, samples_flag: str, samples_help: str
) -> None:
    parser.add_argument("dataset", help="data set name (a DATASETS key), e.g. cifar10, mnist")
    parser.add_argument(
        "--data-root", default=None, help="where the data sets live (default $LANDSCAPE_DATA)"
    )
    parser.add_argument(samples_flag, type=int, default=None, help=samples_help)
    parser.add_argument(
        "--extractor",
        default=None,
        help="torch-fidelity feature extractor (default inception-v3-compat; "
        "digits-cnn for digits; mnist-cnn is the offline one for mnist)",
    )
    parser.add_argument(
        "--cache-dir",
        default=None,
        help="statistics cache (default: $LANDSCAPE_CACHE, else ~/.cache/landscape)",
    )
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cuda (default cpu)")
