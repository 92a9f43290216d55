"""Canonical forms: what leaves the airlock is made from what the airlock parsed.

An output checker with ordinary tools (an image viewer, a spreadsheet, a PDF
reader, JupyterLab) cannot see data hidden in a file's structure: bytes after
the end of a PNG, a PNG text chunk, a JPEG comment, a Parquet footer's
key-value metadata, a notebook's widget state or an output MIME type no
frontend renders.  The rule: **never escalate (or release) a payload no person
can see.**  So, per format, either

- the airlock makes a *canonical copy* from what it parsed (images re-encoded
  from their pixels, Parquet rewritten from its table, notebooks with only the
  outputs the review page shows), and that copy is what is checked, shown to
  the checker, stored and released (:func:`make`, run by the check runner); or
- the file is refused with a sentence saying what was found and what to do,
  where no canonical form can be made (:func:`refuse_hidden`, run at intake:
  SVG, spreadsheets with hidden structure, PDFs with attachments, scripts or
  forms, Markdown with embedded data).

Every parser here is bounded: image pixels are read from the header before any
decoding, PDF streams are decompressed up to a budget, spreadsheet parts are
read up to a size.  See ``docs/intake.md`` for the table of formats.
"""

from __future__ import annotations

from pathlib import Path

from airlock.canonical.errors import CanonicalRefused, ImageTooLarge
from airlock.canonical.result import Canonical
from airlock.filetypes import Kind

__all__ = ["Canonical", "CanonicalRefused", "ImageTooLarge", "make", "refuse_hidden"]


def refuse_hidden(path: Path, name: str, kind: Kind) -> None:
    """Refuse (:class:`CanonicalRefused`) a file holding content a viewer does not show,
    where the airlock cannot make a canonical copy without it.  Cheap and bounded: run at
    intake, before anything is stored (drafts included)."""
    if kind is Kind.SVG:
        from airlock.canonical.markup import refuse_svg

        refuse_svg(path, name)
    elif kind is Kind.MARKDOWN:
        from airlock.canonical.markup import check_markdown

        check_markdown(path, name)
    elif kind is Kind.PDF:
        from airlock.canonical.pdf import check_pdf

        check_pdf(path, name)
    elif kind is Kind.XLSX:
        from airlock.canonical.xlsx import check_xlsx

        check_xlsx(path, name)
    elif kind in (Kind.PNG, Kind.JPEG):
        from airlock.canonical.images import check_dimensions

        check_dimensions(path, name)


def make(path: Path, name: str, kind: Kind, work: Path, max_bytes: int) -> Canonical | None:
    """The canonical copy of a file, written into ``work`` (None: the file is released as
    submitted, because a viewer shows all of it: CSV, TSV, text, JSON, and the PDFs and
    spreadsheets :func:`refuse_hidden` let through).  Raises :class:`CanonicalRefused`
    when no canonical copy can be made, or the file is larger than ``max_bytes`` (it would
    have to be read whole)."""
    if kind in (Kind.PNG, Kind.JPEG, Kind.NOTEBOOK) and path.stat().st_size > max_bytes:
        raise CanonicalRefused(
            f"{name} is larger than {max_bytes / 1024**2:,.0f} MB, more than the airlock reads "
            f"of {'a notebook' if kind is Kind.NOTEBOOK else 'an image'}; it can carry content "
            "a viewer does not show, so it leaves only re-made from what the airlock read: "
            + ("clear large outputs and save it again" if kind is Kind.NOTEBOOK else
               "save it at a lower resolution"))
    if kind in (Kind.PNG, Kind.JPEG):
        from airlock.canonical.images import canonical_image

        return canonical_image(path, name, kind, work)
    if kind is Kind.NOTEBOOK:
        from airlock.canonical.notebook import canonical_notebook

        return canonical_notebook(path, name, work)
    if kind is Kind.SVG:  # a draft stored before SVGs were refused
        from airlock.canonical.markup import refuse_svg

        refuse_svg(path, name)
    return None
