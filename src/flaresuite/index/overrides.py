"""``REQUIRES_PYTHON_OVERRIDES``: a Requires-Python for files whose metadata lacks a true one.

PyTorch's generator forced ``data-requires-python=">=3.10"`` on its networkx 3.3 and 3.4.2
copies (test-infra#6575), because those wheels were mirrored without PEP 658 sidecars and pip
and uv on Python 3.9 picked them and broke (pytorch/pytorch#152191). An override names files by
a shell-style pattern (``fnmatch``) on the file name and wins over the sidecar.

Setting syntax: ``PATTERN=SPECIFIER`` pairs separated by ``;``, e.g.
``networkx-3.3-py3-none-any.whl=>=3.10; numpy-2.3.*.whl=>=3.11``.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

from packaging.specifiers import InvalidSpecifier, SpecifierSet

DEFAULT_RULES = (
    ("networkx-3.3-py3-none-any.whl", ">=3.10"),
    ("networkx-3.4.2-py3-none-any.whl", ">=3.10"),
)


@dataclass(frozen=True)
class RequiresPythonOverrides:
    rules: tuple[tuple[str, str], ...] = DEFAULT_RULES
    _compiled: tuple[tuple[str, re.Pattern[str], str], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        compiled = tuple(
            (_literal_start(pattern), re.compile(fnmatch.translate(pattern)), specifier)
            for pattern, specifier in self.rules
        )
        object.__setattr__(self, "_compiled", compiled)

    def for_filename(self, filename: str) -> str | None:
        """The overriding specifier for ``filename`` (the first rule that matches), or
        ``None``. Every file of a run is asked, so a pattern's literal start is compared
        before its expression runs."""
        for start, pattern, specifier in self._compiled:
            if filename.startswith(start) and pattern.match(filename):
                return specifier
        return None


def _literal_start(pattern: str) -> str:
    """The part of a shell-style pattern before its first wildcard."""
    for position, character in enumerate(pattern):
        if character in "*?[":
            return pattern[:position]
    return pattern


def parse_overrides(text: str) -> RequiresPythonOverrides:
    """Raises ``ValueError`` (naming the bad entry's position, not its text) for an entry
    without ``=``, an empty pattern, or an invalid PEP 440 specifier set."""
    rules = []
    for position, entry in enumerate((part.strip() for part in text.split(";")), start=1):
        if not entry:
            continue
        pattern, sep, specifier = entry.partition("=")
        pattern, specifier = pattern.strip(), specifier.strip()
        if not sep or not pattern or not specifier:
            raise ValueError(f"entry {position} is not PATTERN=SPECIFIER")
        try:
            SpecifierSet(specifier)
        except InvalidSpecifier:
            raise ValueError(f"entry {position} has an invalid specifier set") from None
        rules.append((pattern, specifier))
    return RequiresPythonOverrides(tuple(rules))
