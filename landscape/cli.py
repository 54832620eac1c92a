"""The ``landscape`` command: one sub-command per module in ``landscape.commands``.

Errors end here, in ``main``: a ``UserError`` (a study file, a flag, a plugin, a folder) is one
paragraph and exit status 2; anything else is a bug, reported in one line with exit status 1.
``landscape --debug COMMAND ...`` shows the traceback of either.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from landscape.errors import UserError

# command -> its module in landscape.commands, imported only when that command runs (or for
# the list of commands in --help): a command pays for its own imports, not for every other's
# (`prepare-stats` imports torch-fidelity and torchvision, over a second together).
COMMANDS = {
    "run": "run",
    "worker": "worker",
    "slurm": "slurm",
    "plan": "plan",
    "status": "status",
    "report": "report",
    "evaluate": "evaluate",
    "sample": "sample",
    "train": "train",
    "prepare-stats": "prepare_stats",
    "floor": "floor",
    "smoke": "smoke",
    "build-celeba-hq": "build_celeba",
}
TOP_OPTIONS_WITH_VALUE = ("--plugin",)
# Known mistakes: UserError (StudyError, PluginError, the registries' UnknownNameError, the
# queue's storage errors), and ValueError / FileNotFoundError, which commands and data loaders
# still raise for a bad flag or missing data (their messages name the flag or the folder).
USER_ERRORS = (UserError, ValueError, FileNotFoundError)
FOLDER_FLAGS = ("--results",)  # folders a command creates when missing: never an existing file


def command_module(name: str):
    """The module of command ``name`` (a key of COMMANDS)."""
    return importlib.import_module(f"landscape.commands.{COMMANDS[name]}")


def chosen_command(argv: list[str]) -> str | None:
    """The command ``argv`` names (its first word that is no top-level option or option value),
    or None when it names none that exists (then argparse lists them all)."""
    words = iter(argv)
    for word in words:
        if word in TOP_OPTIONS_WITH_VALUE:
            next(words, None)
        elif not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def parser(
    argv: list[str] | None = None,
) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The command line; with ``argv``, only the command it names is imported and built."""
    chosen = chosen_command(sys.argv[1:] if argv is None else argv)
    top = argparse.ArgumentParser(
        prog="landscape",
        description="Benchmark the GAN design space (Kurach et al. 2019) and report on it.",
    )
    top.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="FILE",
        help="a Python file that registers your own variants (repeatable)",
    )
    top.add_argument("--debug", action="store_true", help="show the Python traceback of an error")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands = {}
    for name in [chosen] if chosen else COMMANDS:
        module = command_module(name)
        command = sub.add_parser(name, help=module.HELP, description=module.__doc__)
        module.add_arguments(command)
        command.set_defaults(handler=module.run)
        commands[name] = command
    return top, commands


def main(argv: list[str] | None = None) -> int:
    top, commands = parser(argv)
    args = top.parse_args(argv)
    from landscape.execution.storage import from_environment, redact
    from landscape.plugins import load_plugin_for

    if getattr(args, "storage", "") is None:  # every command's --storage: $LANDSCAPE_STORAGE
        args.storage = from_environment()

    try:
        for plugin in args.plugin:
            load_plugin_for(plugin, f"--plugin {plugin}")
        check_folder_flags(args, commands[args.command])
        return int(args.handler(args) or 0)
    except USER_ERRORS as error:
        if args.debug:
            raise
        print(f"landscape {args.command}: error: {redact(error)}", file=sys.stderr)
        return 2
    except Exception as error:
        if args.debug:
            raise
        print(
            f"landscape {args.command}: unexpected error (a bug in landscape or in a plugin): "
            f"{type(error).__name__}: {redact(error)}\nrun with --debug for the traceback "
            f"(landscape --debug {args.command} ...)",
            file=sys.stderr,
        )
        return 1


def check_folder_flags(args: argparse.Namespace, command: argparse.ArgumentParser) -> None:
    """``--results notes.txt`` where notes.txt is a file: refused before anything is written."""
    for action in command._actions:
        flag = next((f for f in action.option_strings if f in FOLDER_FLAGS), None)
        value = getattr(args, action.dest, None) if flag else None
        if value is not None and Path(value).exists() and not Path(value).is_dir():
            raise UserError(
                f"{flag} {value}: this is a file, not a folder. {flag} names the folder that "
                f"holds one results folder per study (default: {action.default}); give a "
                f"folder, or a path that does not exist yet"
            )


if __name__ == "__main__":
    sys.exit(main())
