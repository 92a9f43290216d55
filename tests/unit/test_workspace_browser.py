"""What may go to the researcher's browser and come from it (tre.workspace.browser)."""

from __future__ import annotations

import base64

from tre.workspace.browser import Limits, check_read, check_write, is_text

HOME, DATA = "/home/jovyan", "/home/jovyan/data"
SMALL = Limits(text_bytes=100, notebook_bytes=200)


def read(path: str, real: str | None = None, kind: str = "file", fmt: str | None = None,
         size: int = 10) -> str | None:
    got = check_read(api_path=path, real_path=real or f"{HOME}/{path}", data_root=DATA,
                     kind=kind, fmt=fmt, size=size, limits=SMALL)
    return None if got is None else got.reason


def write(path: str, content: object, kind: str = "file", fmt: str | None = "text",
          chunk: object = None) -> str | None:
    got = check_write(api_path=path, real_path=f"{HOME}/{path}", data_root=DATA, kind=kind,
                      fmt=fmt, content=content, chunk=chunk, limits=SMALL)
    return None if got is None else got.reason


def test_nothing_under_data_is_read_in_any_format() -> None:
    for fmt in (None, "text", "base64"):
        assert read("data/ehr/person.parquet", fmt=fmt) == "dataset"
        assert read("data/ehr/notes.csv", fmt=fmt, size=1) == "dataset"
    assert read("data/ehr/x.ipynb", kind="notebook") == "dataset"
    assert read("data/ehr", kind="directory") is None  # a listing: names only


def test_a_link_into_data_is_judged_by_where_it_leads() -> None:
    assert read("innocent.txt", real=f"{DATA}/ehr/person.csv") == "dataset"
    assert read("data-ish/x.txt", real=f"{HOME}/data-ish/x.txt") is None  # not ~/data


def test_elsewhere_only_small_text_and_notebooks() -> None:
    assert read("outputs/table.csv", fmt="text", size=100) is None
    assert read("outputs/table.csv", fmt="text", size=101) == "too_large"
    assert read("outputs/table.csv", fmt="base64", size=1) == "binary"
    assert read("analysis.ipynb", kind="notebook", size=200) is None
    assert read("analysis.ipynb", kind="notebook", size=201) == "too_large"


def test_uploads_are_small_text_or_notebooks() -> None:
    parquet = b"PAR1\x15\x04\x15\x10\x00\x00"
    assert write("outputs/x.parquet", base64.b64encode(parquet).decode(), fmt="base64") \
        == "binary"
    assert write("notes.txt", base64.b64encode(b"a,b\n1,2\n").decode(), fmt="base64") is None
    assert write("notes.txt", "x" * 100) is None
    assert write("notes.txt", "x" * 101) == "too_large"
    assert write("notes.txt", base64.b64encode(b"x" * 101).decode(), fmt="base64") \
        == "too_large"
    assert write("notes.txt", "not base64!", fmt="base64") == "binary"
    assert write("big.csv", "AAAA", fmt="base64", chunk=1) == "too_large"
    assert write("a.ipynb", {"cells": []}, kind="notebook", fmt="json") is None
    assert write("a.ipynb", {"cells": ["x" * 300]}, kind="notebook", fmt="json") \
        == "too_large"
    assert write("data/ehr/new.csv", "a") == "dataset"
    assert write("newdir", None, kind="directory", fmt=None) is None


def test_text_means_utf8_without_control_characters() -> None:
    assert is_text("héllo\tworld\r\n\f".encode())
    assert not is_text(b"a\x00b")
    assert not is_text(b"\xff\xfe")
    assert not is_text(b"\x1b[31m")
