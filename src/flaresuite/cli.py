"""``flaresuite`` command line: one sub-command group per capability.

Each group lives beside the code it drives (``flaresuite/<area>/cli.py``) and exposes
``register(subparsers)``; this module only assembles them. Usage errors exit 2 with a message
on stderr, like argparse's own.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMAND_GROUPS = (
    "flaresuite.index.cli",
    "flaresuite.release.cli",
    "flaresuite.swarm.cli",
)
"""Modules that add a sub-command group, in the order ``--help`` lists them."""


class UsageError(Exception):
    """Bad input from the command line or the files it names: exit status 2."""


def positive_int(text: str) -> int:
    """An argparse ``type`` for counts: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flaresuite", description=__doc__.splitlines()[0])
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    for module_name in COMMAND_GROUPS:
        importlib.import_module(module_name).register(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except UsageError as error:
        print(f"flaresuite: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("flaresuite: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
