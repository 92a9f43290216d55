"""Notebooks with only what the review page shows.

A notebook is JSON; a checker (in JupyterLab, or on the airlock's review page)
sees its cells' source and, per output, *one* rendering: an image, or the plain
text.  Everything else is invisible: widget state (``metadata.widgets``), output
MIME types no frontend renders (``text/csv``, ``application/json``, custom
types), the HTML behind a table's plain text, output and cell metadata (which
also hides cells: ``jupyter.source_hidden``), attachments, tracebacks (the page
shows the error's name and message) and any key nbformat does not define.

The canonical copy keeps, per cell: its type, source (and an id); per output:
streams' text and an error's name and message (without terminal control
sequences, which can conceal or overwrite text), and for rich outputs one PNG or JPEG
image (re-encoded from its pixels, like an image file) else the plain text; the
notebook's kernel and language names.  It is checked (every table in it, by
:mod:`airlock.notebooks`), shown and released as it is; ``removed`` says what went.
A Markdown cell with embedded data (a ``data:`` URI) is refused, as a Markdown
file is.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from airlock.canonical.errors import CanonicalRefused
from airlock.canonical.markup import find_data_uri
from airlock.canonical.result import Canonical
from airlock.filetypes import Kind

_CELL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_IMAGES = {"image/png": Kind.PNG, "image/jpeg": Kind.JPEG}
_NAME = 200  # longest kernel or language name kept
# The most characters of one cell's source or one output's text the review page shows
# (airlock.ui.notebook imports it): a longer one would be released past what the
# checker saw, so it is refused.
MAX_TEXT = 100_000
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(v if isinstance(v, str) else "" for v in value)
    return value if isinstance(value, str) else ""


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _names(meta: Any) -> dict[str, Any]:
    """The kernel and language names (short strings), nothing else of the metadata."""
    out: dict[str, Any] = {}
    if not isinstance(meta, dict):
        return out
    for key, fields in (("kernelspec", ("name", "display_name", "language")),
                        ("language_info", ("name", "version"))):
        sub = meta.get(key)
        if isinstance(sub, dict):
            kept = {f: sub[f] for f in fields
                    if isinstance(sub.get(f), str) and len(sub[f]) <= _NAME}
            if kept:
                out[key] = kept
    return out


class _Stripper:
    def __init__(self, name: str) -> None:
        self.name = name
        self.removed: Counter[str] = Counter()

    def output(self, out: dict[str, Any], where: str) -> dict[str, Any] | None:
        kind = out.get("output_type")
        if kind == "stream":
            stream = out.get("name") if out.get("name") in ("stdout", "stderr") else "stdout"
            return {"output_type": "stream", "name": stream,
                    "text": _lines(self.shown(_text(out.get("text"))))}
        if kind == "error":
            if out.get("traceback"):
                self.removed["error tracebacks (the review page shows the error's message)"] += 1
            return {"output_type": "error", "ename": self.shown(_text(out.get("ename"))),
                    "evalue": self.shown(_text(out.get("evalue"))), "traceback": []}
        if kind not in ("execute_result", "display_data"):
            self.removed[f"outputs of an unknown type ({str(kind)[:40]!r})"] += 1
            return None
        raw = out.get("data")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if out.get("metadata"):
            self.removed["output metadata"] += 1
        kept: dict[str, Any] = {}
        image = next((m for m in _IMAGES if m in data), None)
        if image is not None:
            kept[image] = self._image(data[image], image, where)
        elif "text/plain" in data:
            kept["text/plain"] = _lines(self.shown(_text(data["text/plain"])))
        for media in sorted(set(data) - set(kept)):
            self.removed[f"{media} output data, which the review page does not show"] += 1
        if not kept:
            return None
        result: dict[str, Any] = {"output_type": kind, "data": kept, "metadata": {}}
        if kind == "execute_result":
            count = out.get("execution_count")
            result["execution_count"] = count if isinstance(count, int) else None
        return result

    def shown(self, text: str) -> str:
        """Output text as every reader shows it: terminal control sequences (ANSI colours,
        and "concealed" text), carriage returns and backspaces can hide or overwrite text
        in JupyterLab; they are removed (a lone carriage return becomes a new line)."""
        clean = _ANSI.sub("", text)
        clean = clean.replace("\r\n", "\n").replace("\r", "\n")
        clean = _CONTROL.sub("", clean)
        if clean != text:
            self.removed["terminal control characters in outputs (they can hide or "
                          "overwrite text)"] += 1
        return clean

    def _image(self, value: Any, media: str, where: str) -> str:
        from airlock.canonical.images import reencode

        try:
            raw = base64.b64decode(_text(value).encode("ascii"), validate=False)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise CanonicalRefused(f"{self.name}: the image in {where} is not valid base64; "
                                   "run the cell again and save the notebook") from None
        data, extras = reencode(raw, f"{self.name} ({where})", _IMAGES[media])
        for e in extras:
            self.removed[f"image {e}"] += 1
        return base64.b64encode(data).decode("ascii") + "\n"

    def cell(self, cell: dict[str, Any], i: int) -> dict[str, Any] | None:
        kind = cell.get("cell_type")
        if kind not in ("code", "markdown", "raw"):
            self.removed[f"cells of an unknown type ({str(kind)[:40]!r})"] += 1
            return None
        source = _text(cell.get("source"))
        if kind == "markdown":
            found = find_data_uri(source)
            if found:
                raise CanonicalRefused(
                    f"{self.name}: the Markdown of cell {i + 1} holds a data: URI ({found}), "
                    "an embedded file a reader sees only as an image or not at all; remove "
                    "it, and put figures in outputs or in separate PNG files")
        out: dict[str, Any] = {"cell_type": kind, "metadata": {}, "source": _lines(source)}
        cid = cell.get("id")
        out["id"] = cid if isinstance(cid, str) and _CELL_ID.match(cid) else f"cell-{i + 1}"
        if cell.get("metadata"):
            self.removed["cell metadata (tags, hidden-source and collapsed flags)"] += 1
        if cell.get("attachments"):
            self.removed["cell attachments (files pasted into Markdown cells)"] += 1
        extra = set(cell) - {"cell_type", "metadata", "source", "id", "attachments",
                             "outputs", "execution_count"}
        if extra:
            self.removed["cell keys nbformat does not define"] += 1
        if kind == "code":
            count = cell.get("execution_count")
            out["execution_count"] = count if isinstance(count, int) else None
            outputs = []
            for j, o in enumerate(cell.get("outputs") or []):
                kept = self.output(o, f"cell {i + 1}, output {j + 1}") \
                    if isinstance(o, dict) else None
                if kept is not None:
                    outputs.append(kept)
            out["outputs"] = outputs
        return out


def strip(nb: dict[str, Any], name: str) -> tuple[dict[str, Any], list[str]]:
    """The canonical notebook, and what the original held besides (in sentences)."""
    s = _Stripper(name)
    meta = nb.get("metadata")
    if isinstance(meta, dict):
        if "widgets" in meta:
            s.removed["widget state (metadata.widgets), which no reader of the notebook "
                      "sees"] += 1
        dropped = set(meta) - {"kernelspec", "language_info", "widgets"}
        if dropped:
            s.removed[f"notebook metadata ({', '.join(sorted(dropped)[:5])})"] += 1
    cells = []
    for i, cell in enumerate(nb.get("cells") or []):
        kept = s.cell(cell, i) if isinstance(cell, dict) else None
        if kept is not None:
            cells.append(kept)
    minor = nb.get("nbformat_minor")
    out = {"cells": cells, "metadata": _names(meta), "nbformat": 4,
           "nbformat_minor": minor if isinstance(minor, int) and 0 <= minor <= 5 else 5}
    removed = [what if n == 1 else f"{what} (x{n})" for what, n in sorted(s.removed.items())]
    return out, removed


def canonical_notebook(path: Path, name: str, work: Path) -> Canonical:
    try:
        nb = json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, RecursionError) as exc:
        raise CanonicalRefused(f"{name} is not a readable notebook: {exc}") from None
    if not isinstance(nb, dict):
        raise CanonicalRefused(f"{name} is not a Jupyter notebook")
    clean, removed = strip(nb, name)
    for subject, text in visible_text(clean):
        if len(text) > MAX_TEXT:
            raise CanonicalRefused(
                f"{name}: {subject} has {len(text):,} characters, more than the "
                f"{MAX_TEXT:,} the review page shows of one cell's source or output, so a "
                "checker would not see all of it; split it into smaller cells, or print "
                "less (write long results to a file of their own)")
    out = work / f"canonical-{path.name}"
    out.write_text(json.dumps(clean, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    return Canonical(out, "only the cells and the outputs the review page shows", removed)


def visible_text(nb: dict[str, Any]) -> list[tuple[str, str]]:
    """Every text a reader of the canonical notebook sees, as (subject, text): cell
    sources, streams, errors and plain-text outputs.  The hook for the text checks
    (identifiers, row-level data) to read a notebook as they read a text file."""
    out: list[tuple[str, str]] = []
    for i, cell in enumerate(nb.get("cells") or []):
        if not isinstance(cell, dict):
            continue
        out.append((f"cell {i + 1}", _text(cell.get("source"))))
        for j, o in enumerate(cell.get("outputs") or []):
            if not isinstance(o, dict):
                continue
            data = o.get("data") if isinstance(o.get("data"), dict) else {}
            text = _text(o.get("text")) or _text((data or {}).get("text/plain")) or \
                f"{_text(o.get('ename'))}: {_text(o.get('evalue'))}".strip(": ")
            if text:
                out.append((f"cell {i + 1}, output {j + 1}", text))
    return out
