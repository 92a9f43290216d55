"""File names: plain base names only, shown honestly."""

from __future__ import annotations

import pytest

from airlock.names import BadName, check_name, same_name_key

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", [
    "table.csv", "Résumé des résultats.md", "表.csv", "a-b_c.1.txt", "x" * 195 + ".csv",
])
def test_good_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(("name", "why"), [
    ("", "empty"),
    ("../etc/passwd", "path"),
    ("/etc/passwd", "path"),
    ("C:\\Windows\\x.csv", "path"),
    ("dir/x.csv", "path"),
    ("a\uff0fb.csv", "path"),  # a full-width solidus normalises to '/'
    ("..", "not a file name"),
    (".", "not a file name"),
    (".bashrc", "starts with a dot"),  # hidden: easy to miss in a release bundle
    ("\uff0ehidden.csv", "starts with a dot"),  # a full-width full stop normalises to '.'
    ("a\x00b.csv", "control"),
    ("a\nb.csv", "control"),
    ("evil\u202etxt.exe", "invisible"),  # right-to-left override
    ("a\u200bb.csv", "invisible"),  # zero-width space
    (" lead.csv", "space"),
    ("trail.csv.", "dot"),
    ("a:b.csv", "cannot store"),
    ("CON.csv", "reserved"),
    ("x" * 201, "too long"),
    ("é" * 150, "too long"),  # 300 bytes of UTF-8
])
def test_bad_names(name: str, why: str) -> None:
    with pytest.raises(BadName, match=why):
        check_name(name)


def test_names_are_nfc_and_compared_loosely() -> None:
    decomposed = "Re\u0301sume\u0301.csv"
    assert check_name(decomposed) == "Résumé.csv"
    assert same_name_key("TABLE.csv") == same_name_key("table.csv")
    assert same_name_key("ﬁle.csv") == same_name_key("file.csv")  # ligature
