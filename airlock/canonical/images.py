"""PNG and JPEG, re-encoded from their pixels.

What an image viewer shows is the pixels; everything else a PNG or JPEG can
carry is invisible to a checker: text chunks (tEXt, zTXt, iTXt: thousands of
records fit), EXIF, XMP, ICC profiles, JPEG comments (COM) and application
segments, and any bytes after the end of the image (after IEND or EOI).  The
canonical copy is a new image made from the decoded pixels alone, so none of
that can survive, whatever the parser did or did not recognise.

The size is read from the header before anything is decoded: an image declaring
more than :data:`MAX_PIXELS` pixels (a "decompression bomb": a few kilobytes that
decode to gigabytes) is refused without being decoded.

The colour values of fully transparent pixels are invisible too, and are set to
black; so are those of almost transparent ones (alpha 1/255 shows nothing, yet would
keep its 24 bits of colour): opacity is rounded to 16 levels (under 9/255 is fully
transparent) and each colour to what shows at its opacity (premultiplied, rounded and
divided back), so a pixel carries no more than it shows.  Not removed: information
hidden *in* visible pixel values (steganography).
The checker sees exactly the pixels that are released, no more.
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path
from typing import BinaryIO

from airlock.canonical.errors import CanonicalRefused, ImageTooLarge
from airlock.canonical.result import Canonical
from airlock.filetypes import Kind

MAX_PIXELS = 25_000_000  # an A3 page at 300 dpi is 17 MP; 25 MP is 100 MB as RGBA, a few
# times that while converting
JPEG_QUALITY = 95
# Opacity keeps 16 levels (0, 17, ..., 255): an opacity under 9/255 shows nothing, and
# 8 bits of opacity a pixel would be a channel a viewer does not show.
ALPHA_LEVELS = 16
ALPHA_STEP = 255 // (ALPHA_LEVELS - 1)
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_PNG_TEXT = {b"tEXt", b"zTXt", b"iTXt"}
_PNG_KEEP = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS"}  # what the pixels are made of


def _png_size(head: bytes) -> tuple[int, int] | None:
    if len(head) >= 24 and head.startswith(_PNG_SIG) and head[12:16] == b"IHDR":
        w, h = struct.unpack(">II", head[16:24])
        return int(w), int(h)
    return None


def _jpeg_size(fh: BinaryIO, limit: int = 1 << 20) -> tuple[int, int] | None:
    """Width and height from the first SOFn marker (read segment by segment, at most
    ``limit`` bytes)."""
    fh.seek(2)
    read = 2
    while read < limit:
        marker = fh.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        code = marker[1]
        if code == 0xFF:  # fill bytes before a marker
            fh.seek(-1, 1)
            read += 1
            continue
        if code in (0xD8, 0x01) or 0xD0 <= code <= 0xD7:  # markers without a length
            read += 2
            continue
        length_bytes = fh.read(2)
        if len(length_bytes) < 2:
            return None
        length = struct.unpack(">H", length_bytes)[0]
        if code in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE,
                    0xCF):
            body = fh.read(5)
            if len(body) < 5:
                return None
            h, w = struct.unpack(">HH", body[1:5])
            return int(w), int(h)
        fh.seek(length - 2, 1)
        read += 2 + length
    return None


def check_dimensions(path: Path, name: str) -> None:
    """Refuse an image whose header declares too many pixels (before decoding it)."""
    with open(path, "rb") as fh:
        head = fh.read(32)
        size = _png_size(head) if head.startswith(_PNG_SIG) else _jpeg_size(fh)
    if size is None:
        raise CanonicalRefused(f"{name}: the image's header does not say how large it is, so "
                               "it cannot be read safely; save it again as PNG")
    w, h = size
    if w * h > MAX_PIXELS:
        raise ImageTooLarge(
            f"{name} is {w:,} x {h:,} pixels ({w * h / 1e6:,.0f} megapixels): the airlock "
            f"decodes images of at most {MAX_PIXELS / 1e6:.0f} megapixels; save it at a lower "
            "resolution (for example matplotlib's dpi=200)")
    if w == 0 or h == 0:
        raise CanonicalRefused(f"{name} is an image of {w} x {h} pixels: there is nothing "
                               "to show; save the figure again")


def _png_extras(data: bytes) -> list[str]:
    """What a PNG holds besides its pixels, walking its chunks."""
    removed: list[str] = []
    texts, others, pos = 0, set(), 8
    while pos + 8 <= len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        kind = data[pos + 4:pos + 8]
        pos += 12 + length
        if kind in _PNG_TEXT:
            texts += 1
        elif kind not in _PNG_KEEP:
            others.add(kind.decode("latin-1"))
        if kind == b"IEND":
            break
    if texts:
        removed.append(f"{texts} text chunk(s) (tEXt/zTXt/iTXt), which an image viewer "
                       "does not show")
    if others:
        removed.append(f"metadata chunk(s) {', '.join(sorted(others))}")
    if pos < len(data):
        removed.append(f"{len(data) - pos:,} byte(s) after the end of the image (IEND)")
    return removed


def _jpeg_extras(data: bytes) -> list[str]:
    """What a JPEG holds besides its pixels: APPn and COM segments, bytes after EOI."""
    removed: list[str] = []
    names: set[str] = set()
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        code = data[pos + 1]
        if code == 0xDA:  # start of scan: the entropy-coded pixels follow
            break
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        segment = data[pos + 4:pos + 2 + length]
        if code == 0xFE:
            names.add("a comment (COM)")
        elif code == 0xE1 and segment.startswith(b"Exif"):
            names.add("EXIF metadata")
        elif code == 0xE1:
            names.add("XMP metadata")
        elif code == 0xE2:
            names.add("an ICC profile")
        elif 0xE0 < code <= 0xEF:
            names.add(f"an application segment (APP{code - 0xE0})")
        pos += 2 + length
    removed.extend(sorted(names))
    end = data.rfind(b"\xff\xd9")
    if end != -1 and end + 2 < len(data):
        removed.append(f"{len(data) - end - 2:,} byte(s) after the end of the image (EOI)")
    return removed


def _visible_rgba(raw: bytes, size: tuple[int, int]) -> tuple[bytes, int, int]:
    """RGBA pixels reduced to what a viewer shows: opacity rounded to ``ALPHA_LEVELS``
    levels (so under 9/255 is fully transparent, and black), and each colour rounded to
    what shows at its opacity: premultiplied (``c * a / 255``, what is drawn over black)
    and divided back.  An opaque pixel is unchanged.  Returns the pixels, how many were
    made fully transparent (and held a colour or an opacity), how many others changed."""
    import numpy as np

    arr = np.frombuffer(raw, dtype=np.uint8).reshape(size[1], size[0], 4)
    alpha = arr[..., 3].astype(np.int32)
    a = (np.rint(alpha / ALPHA_STEP) * ALPHA_STEP).astype(np.int32)
    colour = arr[..., :3].astype(np.int32)
    shown = np.rint(colour * a[..., None] / 255)  # 0..a: what shows over black
    safe_a = np.where(a == 0, 1, a)[..., None]
    back = np.clip(np.rint(shown * 255 / safe_a), 0, 255).astype(np.int32)
    back[a == 0] = 0
    out = np.concatenate((back, a[..., None]), axis=-1).astype(np.uint8)
    diff = (out != arr).any(axis=-1)
    cleared = int((diff & (a == 0)).sum())
    changed = int((diff & (a > 0)).sum())
    return out.tobytes(), cleared, changed


def reencode(data: bytes, name: str, kind: Kind) -> tuple[bytes, list[str]]:
    """``data`` re-encoded from its pixels alone, and what the original held besides."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path_kind = "PNG" if kind is Kind.PNG else "JPEG"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=[path_kind])
            w, h = opened.size
            if w * h > MAX_PIXELS:
                raise ImageTooLarge(
                    f"{name} is {w:,} x {h:,} pixels: the airlock decodes images of at most "
                    f"{MAX_PIXELS / 1e6:.0f} megapixels; save it at a lower resolution")
            frames = int(getattr(opened, "n_frames", 1))
            if frames > 1:
                raise CanonicalRefused(
                    f"{name} is an animated image ({frames} frames); a checker sees one "
                    "frame at a time: export each frame you want released as its own PNG")
            opened.load()
            # as a viewer shows it (EXIF orientation applied) before EXIF goes
            im = ImageOps.exif_transpose(opened) if kind is Kind.JPEG else opened
    except CanonicalRefused:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, struct.error,
            Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise CanonicalRefused(f"{name} is not an image the airlock can read ({exc}); save "
                               "it again as PNG") from None
    if im.mode.startswith("I"):  # 16- or 32-bit grey: scaled to 8 bits, as a viewer shows it
        im = im.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    has_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
    mode = "RGBA" if has_alpha and kind is Kind.PNG else "RGB"
    if im.mode in ("L", "1") and not has_alpha:
        mode = "L"
    pixels = im.convert(mode)
    raw = pixels.tobytes()
    cleared = changed = 0
    if mode == "RGBA":
        raw, cleared, changed = _visible_rgba(raw, pixels.size)
    # A new image from the raw pixels: no info dict, so nothing (ICC, EXIF, text, dpi)
    # can be carried over by the encoder.
    clean = Image.frombytes(mode, pixels.size, raw)
    out = io.BytesIO()
    if kind is Kind.PNG:
        clean.save(out, "PNG", optimize=False, compress_level=6)
        removed = _png_extras(data)
        if changed:
            removed.append(f"what {changed:,} partly transparent pixel(s) held beyond what "
                           f"shows: opacity rounded to {ALPHA_LEVELS} levels and colour to "
                           "what shows at that opacity")
        if cleared:
            removed.append(f"the colours of {cleared:,} fully transparent pixel(s), which no "
                           f"viewer shows (an opacity under {ALPHA_STEP // 2 + 1}/255 counts "
                           "as fully transparent)")
    else:
        clean.save(out, "JPEG", quality=JPEG_QUALITY, subsampling=0, optimize=False)
        removed = _jpeg_extras(data)
    return out.getvalue(), removed


def canonical_image(path: Path, name: str, kind: Kind, work: Path) -> Canonical:
    check_dimensions(path, name)
    data, removed = reencode(path.read_bytes(), name, kind)
    out = work / f"canonical-{path.name}"
    out.write_bytes(data)
    return Canonical(out, "re-encoded from its pixels alone", removed)
