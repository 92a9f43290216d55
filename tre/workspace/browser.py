"""What JupyterLab's server may send to the researcher's browser, and take from it.

The browser is outside the TRE: whatever reaches it can be saved on a laptop.  So
the server (:mod:`tre.workspace.jupyter`, a ContentsManager and refusing handlers)
asks these pure functions before it hands over or accepts any file:

* nothing under ``~/data`` is ever sent, in any format (the datasets are read in the
  kernel; what a notebook shows is the researcher's own analysis);
* elsewhere (home, ``~/outputs``) only UTF-8 text and notebooks are sent, below
  :attr:`Limits.text_bytes` / :attr:`Limits.notebook_bytes`; never base64 (the form
  binary files travel in);
* uploads and saves are text files and notebooks below the same limits, in one piece:
  a binary file (an upload arrives base64-encoded and is decoded to be judged), a
  chunked upload or a file under ``~/data`` is refused.

Paths are judged by where they really lead (symbolic links resolved), so a link in
home that points into ``~/data`` is refused like the file itself.  No I/O here: the
caller resolves the path and measures the file.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass

DATA = "data"  # ~/data, relative to the server's root (the home directory)
# Characters a text file a person writes may hold besides printable ones: tab, newline,
# carriage return, form feed.  Any other control character (NUL above all) marks binary.
_TEXT_CONTROLS = frozenset("\t\n\r\f")


@dataclass(frozen=True)
class Limits:
    """Sizes in bytes (documented in docs/workspaces.md)."""

    text_bytes: int = 1_000_000
    notebook_bytes: int = 5_000_000


@dataclass(frozen=True)
class Refusal:
    """Why a file may not go to (or come from) the browser.

    ``reason`` is a stable code for the audit log; ``message`` a sentence for the person.
    """

    reason: str
    message: str


def _mb(n: int) -> str:
    return f"{n / 1_000_000:g} MB"


def inside(real_path: str, root: str) -> bool:
    """True when ``real_path`` is ``root`` or below it (both already resolved)."""
    try:
        return os.path.commonpath([real_path, root]) == root
    except ValueError:  # different drives or a mix of relative and absolute paths
        return False


def data_refusal(api_path: str) -> Refusal:
    return Refusal("dataset", f"{api_path or '~/data'} is in ~/data: datasets never leave "
                   "the workspace through the browser; read them in a notebook, and export "
                   "results through the airlock")


def download_refusal(route: str) -> Refusal:
    return Refusal("download", f"{route} is switched off in the TRE: files leave only as "
                   "released airlock requests")


def check_read(*, api_path: str, real_path: str, data_root: str, kind: str,
               fmt: str | None, size: int, limits: Limits = Limits()) -> Refusal | None:
    """May the content of this file or notebook be sent to the browser?

    ``kind``: ``file``, ``notebook`` or ``directory`` (a listing: names only, always
    allowed outside and inside ~/data); ``fmt``: the format asked for (None, ``text``
    or ``base64``); ``size``: the file's size in bytes.
    """
    if kind == "directory":
        return None
    if inside(real_path, data_root):
        return data_refusal(api_path)
    if kind == "notebook":
        if size > limits.notebook_bytes:
            return Refusal("too_large", f"{api_path} is {_mb(size)}: notebooks above "
                           f"{_mb(limits.notebook_bytes)} are not opened in the browser")
        return None
    if fmt == "base64":
        return Refusal("binary", f"{api_path}: files are sent to the browser as text only, "
                       "never as base64 (binary files stay in the workspace)")
    if size > limits.text_bytes:
        return Refusal("too_large", f"{api_path} is {_mb(size)}: text files above "
                       f"{_mb(limits.text_bytes)} are not opened in the browser; look at "
                       "them in a notebook")
    return None


def is_text(data: bytes) -> bool:
    """UTF-8 without control characters other than tab, newline, CR and form feed."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any((c < " " and c not in _TEXT_CONTROLS) or c == "\x7f" for c in text)


def binary_refusal(api_path: str) -> Refusal:
    return Refusal("binary", f"{api_path} is not a text file: only notebooks and text files "
                   "may be uploaded; bring data in with an import request")


def check_write(*, api_path: str, real_path: str, data_root: str, kind: str | None,
                fmt: str | None, content: object, chunk: object,
                limits: Limits = Limits()) -> Refusal | None:
    """May this save (an upload, or an edit made in the browser) be written?

    ``content`` is the model's content as the browser sent it (a string for text and
    base64, a dict for notebooks, None for directories and renames).
    """
    if inside(real_path, data_root):
        return data_refusal(api_path)
    if kind == "directory" or content is None:
        return None
    if chunk is not None:
        return Refusal("too_large", f"{api_path}: uploads in pieces are refused; only files "
                       f"up to {_mb(limits.text_bytes)} may be uploaded")
    if kind == "notebook":
        # Measured as the JSON the browser sent, without re-serialising it here.
        size = len(str(content).encode("utf-8"))
        if size > limits.notebook_bytes:
            return Refusal("too_large", f"{api_path} is about {_mb(size)}: notebooks above "
                           f"{_mb(limits.notebook_bytes)} may not be uploaded or saved")
        return None
    if not isinstance(content, str):
        return binary_refusal(api_path)
    if fmt == "base64":
        if len(content) > (limits.text_bytes * 4) // 3 + 4:
            return _too_large_text(api_path, limits)
        try:
            data = base64.b64decode(content.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            return binary_refusal(api_path)
    else:
        data = content.encode("utf-8", "surrogatepass")
    if len(data) > limits.text_bytes:
        return _too_large_text(api_path, limits)
    if not is_text(data):
        return binary_refusal(api_path)
    return None


def _too_large_text(api_path: str, limits: Limits) -> Refusal:
    return Refusal("too_large", f"{api_path}: text files above {_mb(limits.text_bytes)} may "
                   "not be uploaded or saved from the browser")
