"""A Jupyter notebook, read-only, as the review page shows it.

Nothing in the notebook is ever run or rendered as HTML: source and text
outputs are shown as text, HTML outputs as their plain-text alternative, and
images are served by the airlock itself (:func:`output_image`), one URL per
output, because the page's Content-Security-Policy allows no ``data:`` URLs.
Each output is shown with the verdict of its check (its subject is
"cell N, output M", as :mod:`airlock.notebooks` names it).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

# Characters shown of one source or output: defined where the canonical notebook
# refuses longer ones, so the page shows all of every released notebook.
from airlock.canonical.notebook import MAX_TEXT

IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml")


@dataclass
class Output:
    subject: str
    text: str | None = None
    image: int | None = None  # the output's number, for its image URL
    media_type: str | None = None
    verdict: str | None = None


@dataclass
class NotebookCell:
    number: int
    kind: str  # code | markdown | raw
    source: str
    outputs: list[Output] = field(default_factory=list)


def _text(value: Any) -> str:
    text = "".join(value) if isinstance(value, list) else str(value or "")
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "\n… (cut here)"


def load(data: bytes) -> dict[str, Any]:
    notebook = json.loads(data.decode("utf-8-sig"))
    if not isinstance(notebook, dict):
        raise ValueError("not a notebook")
    return notebook


def cells(notebook: dict[str, Any], verdicts: dict[str, str]) -> list[NotebookCell]:
    out = []
    for i, cell in enumerate(notebook.get("cells") or []):
        if not isinstance(cell, dict):
            continue
        nc = NotebookCell(i + 1, str(cell.get("cell_type") or "raw"), _text(cell.get("source")))
        for j, output in enumerate(cell.get("outputs") or []):
            if not isinstance(output, dict):
                continue
            subject = f"cell {i + 1}, output {j + 1}"
            o = Output(subject, verdict=verdicts.get(subject))
            raw = output.get("data")
            data: dict[str, Any] = raw if isinstance(raw, dict) else {}
            image = next((m for m in IMAGE_TYPES if m in data), None)
            if output.get("output_type") == "stream":
                o.text = _text(output.get("text"))
            elif output.get("output_type") == "error":
                o.text = f"{output.get('ename', '')}: {output.get('evalue', '')}"
            elif image is not None:
                o.image, o.media_type = j, image
            else:
                o.text = _text(data.get("text/plain")) if "text/plain" in data else \
                    "(an output with no plain-text form: " + ", ".join(sorted(data)) + ")"
            nc.outputs.append(o)
        out.append(nc)
    return out


def output_image(notebook: dict[str, Any], cell: int, output: int) -> tuple[bytes, str] | None:
    """The image of output ``output`` of cell ``cell`` (both counted from 1 and 0 as in
    :func:`cells`: cell numbers from 1, output index from 0), and its media type."""
    try:
        out = notebook["cells"][cell - 1]["outputs"][output]
        data = out["data"]
    except (KeyError, IndexError, TypeError):
        return None
    media = next((m for m in IMAGE_TYPES if m in data), None)
    if media is None:
        return None
    value = data[media]
    raw = "".join(value) if isinstance(value, list) else str(value)
    if media == "image/svg+xml":
        return raw.encode(), media
    try:
        return base64.b64decode(raw.encode(), validate=False), media
    except (binascii.Error, ValueError):
        return None
