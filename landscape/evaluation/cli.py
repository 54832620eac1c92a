"""``prepare-stats DATASET``: fill the reference-statistics cache ahead of a study.

``landscape.cli`` mounts it as ``landscape prepare-stats``; until then (or without the rest of
the CLI) ``python -m landscape.evaluation prepare-stats DATASET`` runs the same command.
"""

from __future__ import annotations

import argparse
import sys

from landscape.commands.protocol_args import add_protocol_arguments
from landscape.evaluation.cache import resolve_cache_dir
from landscape.evaluation.evaluate import prepare_stats
from landscape.evaluation.extractors import OURS
from landscape.evaluation.inception import InceptionWeightsMissing
from landscape.evaluation.protocol import protocol_for
from landscape.metrics.cache import EXTRACTORS_DIR


def add_prepare_stats_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``prepare-stats`` (for a subcommand parser)."""
    add_protocol_arguments(
        parser,
        samples_flag="--n-samples",
        samples_help="number of samples (default: the paper's, PAPER.md 7)",
    )


def prepare_stats_command(args: argparse.Namespace) -> int:
    """Run ``prepare-stats``; prints the cache file. Exit status 2 on a clear user error."""
    try:
        protocol = protocol_for(args.dataset, n_samples=args.n_samples, extractor=args.extractor)
        path = prepare_stats(
            args.dataset,
            data_root=args.data_root,
            device=args.device,
            cache_dir=args.cache_dir,
            n_samples=args.n_samples,
            extractor=args.extractor,
        )
    except (InceptionWeightsMissing, FileNotFoundError, ValueError) as error:
        print(f"prepare-stats: {error}", file=sys.stderr)
        return 2
    print(f"{protocol.name}: {path}")
    ours = OURS.get(protocol.extractor)
    if ours is not None:
        weights = resolve_cache_dir(args.cache_dir) / EXTRACTORS_DIR / ours.WEIGHTS_FILE
        accuracy = ours.load_or_train(weights, args.data_root)["test_accuracy"]
        print(f"{ours.NAME}: {accuracy:.2%} accuracy on the held-out {ours.DATASET} test split")
    print(f"note: {protocol.note}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m landscape.evaluation prepare-stats DATASET [options]``."""
    parser = argparse.ArgumentParser(prog="python -m landscape.evaluation")
    commands = parser.add_subparsers(dest="command", required=True)
    add_prepare_stats_arguments(
        commands.add_parser(
            "prepare-stats", help="fill the reference-statistics cache for a data set"
        )
    )
    return prepare_stats_command(parser.parse_args(argv))
