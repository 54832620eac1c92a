"""Compute and cache a data set's reference statistics (real-image features) ahead of a
study, so that no worker spends its first evaluation on them."""

from __future__ import annotations

import argparse

from landscape.evaluation.cli import add_prepare_stats_arguments, prepare_stats_command

HELP = "cache the reference statistics (real-image features) of a data set"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_prepare_stats_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return prepare_stats_command(args)
