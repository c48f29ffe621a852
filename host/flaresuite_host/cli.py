"""``flaresuite`` command line: one sub-command group per capability.

Each group lives beside the host code it drives (``flaresuite_host/<area>/cli.py``) and exposes
``add_commands(parser)``; this module only assembles them and maps failures to exit statuses:
2 for bad input (a usage error, a configuration problem: the caller must change something),
1 for a runtime failure (the input was fine, the world was not).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from flaresuite.errors import BadInput, ConfigError, RuntimeFailure
from flaresuite_host.dev import cli as dev_cli
from flaresuite_host.index import cli as index_cli
from flaresuite_host.release import cli as release_cli
from flaresuite_host.swarm import cli as swarm_cli

COMMAND_GROUPS: tuple[tuple[str, str, Callable[[argparse.ArgumentParser], None]], ...] = (
    ("dev", "run a Worker of wrangler.toml locally on Pyodide, offline", dev_cli.add_commands),
    ("index", "build PEP 503/691 simple indexes", index_cli.add_commands),
    (
        "release",
        "bundle a Worker, upload it to R2, publish its ConfigMap",
        release_cli.add_commands,
    ),
    (
        "swarm",
        "run a swarm coordinator locally, invite and simulate devices",
        swarm_cli.add_commands,
    ),
)
"""``(name, help, add_commands)`` per group, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flaresuite", description=__doc__.splitlines()[0])
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    for name, help_text, add_commands in COMMAND_GROUPS:
        add_commands(groups.add_parser(name, help=help_text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (BadInput, ConfigError) as error:
        print(f"flaresuite: error: {error}", file=sys.stderr)
        return 2
    except RuntimeFailure as error:
        print(f"flaresuite: failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("flaresuite: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
