"""SVG (refused) and Markdown (refused when it embeds data).

SVG is XML: it can hold scripts, links, entity declarations (an "entity
expansion bomb" that freezes the checker's browser), text drawn outside the
picture or made invisible, and metadata, none of which an image viewer shows.
The airlock has no safe rasteriser, so an SVG is refused and the researcher is
asked for a PNG (the same figure, saved differently).

Markdown is shown to the checker as its text, but a ``data:`` URI (in a link,
an image, or an HTML ``<img src=...>``) is a whole file written as base64,
which no person reads; rendered, it is an image or nothing.  Such a file is
refused, naming the line.
"""

from __future__ import annotations

import re
from pathlib import Path

from airlock.canonical.errors import CanonicalRefused

# data:[<media type>][;param=value...][;base64],<data> (RFC 2397), not "data: 5 records,"
_DATA_URI = re.compile(r"(?<![a-z0-9])data:(?:[a-z]+/[a-z0-9.+-]+)?"
                       r"(?:;[a-z0-9.+-]+(?:=[a-z0-9.+-]*)?)*,", re.IGNORECASE)
CHUNK = 1 << 20
OVERLAP = 512  # longer than any data: URI's head, so one split between chunks is found


def find_data_uri(text: str) -> str | None:
    """The start of the first ``data:`` URI in ``text`` (shortened), or None."""
    m = _DATA_URI.search(text)
    if m is None:
        return None
    return m.group(0)[:40] + ("..." if len(m.group(0)) > 40 else "")


def refuse_svg(path: Path, name: str) -> None:
    with open(path, "rb") as fh:
        head = fh.read(1 << 16).lower()
    found = []
    if b"<script" in head:
        found.append("a script, which would run in the checker's browser")
    if b"<!entity" in head:
        found.append("entity declarations (an SVG can expand them until a browser stops)")
    what = f" with {' and '.join(found)}" if found else ""
    raise CanonicalRefused(
        f"{name} is an SVG drawing{what}. SVG files cannot be exported: they can hold "
        "scripts, links and text that an image viewer does not show, and the airlock cannot "
        "turn them into plain pixels. Save the figure as PNG instead (in matplotlib: "
        "plt.savefig('figure.png', dpi=200))")


def check_markdown(path: Path, name: str) -> None:
    """Refuse Markdown holding a data: URI, read in chunks (memory stays bounded)."""
    line, tail = 1, ""
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        while block := fh.read(CHUNK):
            text = tail + block
            m = _DATA_URI.search(text)
            if m is not None:
                n = line + text.count("\n", 0, m.start())
                found = find_data_uri(text[m.start():m.start() + 60])
                raise CanonicalRefused(
                    f"{name}: line {n} holds a data: URI ({found}), a file embedded as "
                    "base64 that a reader sees only as an image or not at all. Remove it; "
                    "submit figures as separate PNG files and link them by name")
            tail = text[-OVERLAP:]
            line += text.count("\n") - tail.count("\n")
