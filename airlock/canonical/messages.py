"""What a zip-based file is, said as something a researcher can act on.

Word, PowerPoint and OpenDocument files are zip archives too; calling them
"a zip archive; submit the files inside it" sends a researcher unzipping a
document.  Each is named for what it is, with the export that can leave.
"""

from __future__ import annotations

from collections.abc import Collection

_OFFICE: tuple[tuple[str, str, str], ...] = (
    ("word/document.xml", "a Word document",
     "export it as PDF (File > Save As > PDF) or Markdown, and tables as CSV"),
    ("ppt/presentation.xml", "a PowerPoint presentation",
     "export the slides as PDF, or the figures as PNG"),
    ("visio/document.xml", "a Visio drawing", "export it as PNG or PDF"),
)
_WHY = ("these can hold comments, tracked changes, hidden text and embedded files that a "
        "checker would not see")


def zip_refusal(name: str, parts: Collection[str]) -> str:
    """The refusal of a zip that is not an XLSX spreadsheet (``parts``: its member names)."""
    for marker, what, todo in _OFFICE:
        if marker in parts:
            return f"{name} is {what}, which cannot be exported as it is ({_WHY}): {todo}"
    if "mimetype" in parts and any(p.startswith("content.xml") for p in parts):
        return (f"{name} is an OpenDocument file, which cannot be exported as it is ({_WHY}): "
                "export its tables as CSV and its text as PDF or Markdown")
    return (f"{name} is a zip archive. Archives cannot be exported, because a checker would "
            "have to open every file inside: unzip it and submit the files you mean to "
            "release one by one")


__all__ = ["zip_refusal"]
