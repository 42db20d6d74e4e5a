"""The ``labtools`` command line: one subcommand per module in ``labtools.commands``.

Each command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``. Errors labtools raises on purpose are printed as one
clear line (exit status 2); anything else is a bug and keeps its traceback.

Examples
--------
>>> parser = build_parser()
>>> parser.parse_args(["info", "scan.nii.gz"]).files
['scan.nii.gz']
"""

from __future__ import annotations

import argparse
import importlib
import sys

from labtools import __version__
from labtools.errors import LabtoolsError

__all__ = ["main", "build_parser"]

# Order of appearance in `labtools --help`.
COMMANDS = ("demo", "datasets", "info", "evaluate", "classify", "plan", "pretrain", "train", "predict", "assign",
            "grade", "gradescope")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="labtools",
        description="labtools: a workbench for medical-image segmentation. "
                    "Run `labtools COMMAND --help` for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"labtools {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"labtools.commands.{name}")
        sub = subparsers.add_parser(name, help=module.HELP, description=module.__doc__)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 1
    try:
        return int(args.run(args) or 0)
    except LabtoolsError as err:
        print(f"labtools {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"labtools {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `labtools datasets | head`: the reader left, nothing to report
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # python -m labtools.cli
    sys.exit(main())
