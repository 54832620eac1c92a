"""The ``landscape`` command: one sub-command per module in ``landscape.commands``."""

from __future__ import annotations

import argparse
import sys

from landscape.commands import (
    floor,
    plan,
    prepare_stats,
    report,
    run,
    smoke,
    status,
    train,
    worker,
)

COMMANDS = {
    "run": run,
    "worker": worker,
    "plan": plan,
    "status": status,
    "report": report,
    "train": train,
    "prepare-stats": prepare_stats,
    "floor": floor,
    "smoke": smoke,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="landscape",
        description="Benchmark the GAN design space (Kurach et al. 2019) and report on it.",
    )
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="FILE",
        help="a Python file that registers your own variants (repeatable)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        command = sub.add_parser(name, help=module.HELP, description=module.__doc__)
        module.add_arguments(command)
        command.set_defaults(handler=module.run)
    args = parser.parse_args(argv)
    from landscape.plugins import load_plugin

    try:
        for plugin in args.plugin:
            load_plugin(plugin)
        return int(args.handler(args) or 0)
    except (ValueError, FileNotFoundError, KeyError) as error:
        print(f"landscape {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
