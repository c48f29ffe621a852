"""PyTorch's package allow list: which projects the prefixes of ``ALLOW_LIST_PREFIXES``
(``whl``, ``whl/nightly`` and ``whl/test`` by default, as in ``manage_v2.py``) publish.

Names are matched after PEP 503 normalisation, so ``typing_extensions`` allows
``typing-extensions`` and ``Pillow`` allows ``pillow``.
"""

from __future__ import annotations

from collections.abc import Iterable

from packaging.utils import NormalizedName, canonicalize_name

from flaresuite.index.nightly_allow_list import PYTORCH_NIGHTLY_ALLOW_LIST


def parse_allow_list(lines: Iterable[str]) -> frozenset[NormalizedName]:
    """One name per line; blank lines and ``#`` comments are ignored."""
    names = (line.split("#", 1)[0].strip() for line in lines)
    return frozenset(canonicalize_name(name) for name in names if name)


def default_allow_list() -> frozenset[NormalizedName]:
    return parse_allow_list(PYTORCH_NIGHTLY_ALLOW_LIST)
