"""QR codes of join links, as SVG, drawn on the server so the dashboard needs no script for it.

segno is pure Python (it runs on Pyodide) and writes SVG without any image library. Error
correction level M (ISO/IEC 18004 section 5.3: about 15 % of the symbol may be damaged) suits
a code read off a screen, where glare and moiré cost a few modules.
"""

from __future__ import annotations

import io

import segno


def qr_svg(text: str) -> str:
    """A standalone SVG document (it names its namespace, so it works as an ``<img>``)."""
    buffer = io.BytesIO()
    code = segno.make(text, error="m", micro=False)
    code.save(buffer, kind="svg", xmldecl=False, scale=6, border=4, dark="#111827")
    return buffer.getvalue().decode("utf-8")
