"""What every command-line group shares: the usage error and argument types."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

from flaresuite.errors import BadInput

T = TypeVar("T")


class UsageError(BadInput):
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


def checked(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse ``type`` from a parser that raises ``ValueError``: its message, exit 2."""

    def parse_argument(text: str) -> T:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse_argument
