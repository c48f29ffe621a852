"""Deterministic ``.tar.gz`` archives: the same files give the same bytes.

A tar member records an mtime, a mode, an owner and its position, and gzip records an mtime
and a file name; any of them would make two builds of the same sources differ. Members are
therefore sorted by path and written with mtime 0, mode 0644, uid/gid 0 and no user or group
names (the conventions of https://reproducible-builds.org/docs/archives/), and the gzip header
carries mtime 0 and no name. Bytes are stable for a given zlib; the sha256 is what we publish.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Mapping

FILE_MODE = 0o644


def deterministic_tar_gz(files: Mapping[str, bytes]) -> bytes:
    """Returns a gzip-compressed POSIX.1-2001 (pax) tar of ``files``, keyed by relative
    POSIX path."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(files):
            body = files[path]
            info = tarfile.TarInfo(path)
            info.size = len(body)
            info.mtime = 0
            info.mode = FILE_MODE
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(body))
    return gzip.compress(buffer.getvalue(), compresslevel=9, mtime=0)
