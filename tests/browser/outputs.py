"""Outputs the browser tests submit, made with statbarn as a researcher would."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import statbarn as sb
from tests.harness.airlock import patients

SMALL = ("Islands", "F")  # 3 contributors: under the threshold of 10
DOMINATED = ("North", "M")  # one contributor holds almost all of the total


def small_and_dominated(folder: Path, name: str = "cost_by_region.csv") -> tuple[Path, Path]:
    """Total cost by region and sex: exactly one small cell and one dominated cell."""
    df = patients()
    extra = pd.DataFrame({
        "region": ["Islands"] * 43 + ["North"],
        "sex": ["F"] * 3 + ["M"] * 40 + ["M"],
        "cost": [120.0] * 3 + [80.0] * 40 + [5_000_000.0],
    })
    df = pd.concat([df, extra], ignore_index=True)
    out = sb.crosstab(df.region, df.sex, values=df.cost, aggfunc="sum")
    cells = {(f.row, f.col) for f in out.flags}
    assert cells == {SMALL, DOMINATED}, cells
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    return path, out.save(path)


def safe_counts(folder: Path, name: str = "patients_by_region.csv") -> tuple[Path, Path]:
    df = patients()
    out = sb.crosstab(df.region, df.sex)
    assert out.verdict == "pass"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    return path, out.save(path)


def png(width: int = 24, height: int = 16) -> bytes:
    """A valid PNG (a small blue rectangle), made here rather than shipped."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = b"".join(b"\x00" + b"\x1c\x3d\x5a" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
