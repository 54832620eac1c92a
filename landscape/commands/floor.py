"""The real-data floor of a data set: the FID and KID of its train split against its test
split under the evaluation protocol (the same sample counts and extractor as the runs). No
model can be expected to beat it by much: check it before reading a study's scores."""

from __future__ import annotations

import argparse
import sys

from landscape.commands.protocol_args import add_protocol_arguments

HELP = "FID/KID of the real train split against the test split (cached)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_protocol_arguments(
        parser,
        samples_flag="--samples",
        samples_help="train images scored (the protocol's fake count; default: the paper's, "
        "PAPER.md 7)",
    )


def run(args: argparse.Namespace) -> int:
    from landscape.evaluation import InceptionWeightsMissing, protocol_for
    from landscape.evaluation.floor import floor
    from landscape.metrics.floors import floor_path

    try:
        protocol = protocol_for(args.dataset, n_samples=args.samples, extractor=args.extractor)
        record, computed = floor(
            protocol, data_root=args.data_root, device=args.device, cache_dir=args.cache_dir
        )
    except InceptionWeightsMissing as error:
        print(f"landscape floor: {error}", file=sys.stderr)
        return 2
    print(
        f"{record['protocol']}: {record['split']} ({record['n_split']}) vs "
        f"{record['reference_split']} ({record['n_reference']}): FID {record['fid']:.4g}, "
        f"KID {record['kid_mean']:.4g} ± {record['kid_std']:.2g}"
    )
    if record.get("paper_fid") is not None:
        print(f"the paper's floor for {args.dataset}: FID {record['paper_fid']}")
    where = "computed and cached in" if computed else "cached in"
    print(f"{where} {floor_path(protocol, args.cache_dir)}")
    print(f"note: {record['note']}")
    return 0
