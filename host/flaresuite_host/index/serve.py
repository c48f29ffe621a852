"""``flaresuite index serve DIR``: a small static server for a built index (CPython only).

It serves files as they are, and a directory holding ``index.html``/``index.json`` as a simple
index page in the representation the client's ``Accept`` header asks for (PEP 691, decided by
:mod:`flaresuite.index.negotiation`): JSON to pip and uv, HTML to browsers and ``curl``. Hidden
paths (a local build's ``.flaresuite-state``) are never served.
"""

from __future__ import annotations

import os
import posixpath
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from flaresuite.index.negotiation import negotiate
from flaresuite.index.pages import HTML


class SimpleIndexHandler(SimpleHTTPRequestHandler):
    """``SimpleHTTPRequestHandler`` with PEP 691 negotiation for index directories."""

    def send_head(self) -> BinaryIO | None:
        path = unquote(urlsplit(self.path).path)
        if any(part.startswith(".") for part in path.split("/") if part):
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        local = self.translate_path(self.path)
        if not os.path.isdir(local) or not path.endswith("/"):
            return super().send_head()
        html, json = (os.path.join(local, name) for name in ("index.html", "index.json"))
        if not os.path.isfile(html):
            return super().send_head()
        chosen = negotiate(self.headers.get("Accept"))
        if chosen is None:
            self.send_error(HTTPStatus.NOT_ACCEPTABLE, "Not Acceptable")
            return None
        if chosen.json and os.path.isfile(json):
            page, content_type = json, chosen.content_type
        else:
            page, content_type = html, HTML if chosen.json else chosen.content_type
        file = open(page, "rb")  # noqa: SIM115 - closed by SimpleHTTPRequestHandler.do_GET
        size = os.fstat(file.fileno()).st_size
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(size))
        self.send_header("Vary", "Accept")
        self.end_headers()
        return file

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        if posixpath.basename(os.fspath(path)).endswith(".metadata"):
            return "text/plain; charset=utf-8"  # PEP 658 core metadata
        return super().guess_type(path)


class _QuietHandler(SimpleIndexHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


def make_server(
    directory: Path, host: str = "127.0.0.1", port: int = 8000, *, quiet: bool = False
) -> ThreadingHTTPServer:
    handler = partial(_QuietHandler if quiet else SimpleIndexHandler, directory=str(directory))
    return ThreadingHTTPServer((host, port), handler)


@contextmanager
def serving(directory: Path, *, quiet: bool = True) -> Iterator[str]:
    """Serves ``directory`` on a free loopback port in a background thread; yields its base
    URL (``http://127.0.0.1:PORT``). For tests and scripts."""
    server = make_server(directory, port=0, quiet=quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
