"""QR codes of producer links: Unicode half blocks for a terminal, SVG for the dashboard page.

segno (pure Python) encodes; error correction level M keeps a link readable from a screen that
is a little glared or scratched, and the quiet zone (4 modules) is kept, as scanners need it.
"""

from __future__ import annotations

import io

import segno

ERROR_CORRECTION = "m"


def terminal_lines(text: str) -> str:
    """``text`` as a QR code drawn with half blocks (two modules per character row), light
    modules as blocks, so it reads on a dark terminal; ends with a newline."""
    out = io.StringIO()
    segno.make(text, error=ERROR_CORRECTION).terminal(out=out, compact=True)
    return out.getvalue()


def svg_data_uri(text: str) -> str:
    """``text`` as a QR code, an SVG ``data:`` URI for an ``<img>`` (the page's CSP allows
    ``img-src data:``; an SVG in an img runs no script)."""
    return segno.make(text, error=ERROR_CORRECTION).svg_data_uri(scale=6, dark="#000", light="#fff")
