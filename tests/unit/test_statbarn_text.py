"""statbarn.text: identifiers, encoded payloads and rows of records in free text, named by
line and never repeated; the same verdict from `tre check` (statbarn) and the airlock."""

from __future__ import annotations

import base64
import random
from pathlib import Path

import pytest

import statbarn as sb
from airlock.checks import CheckRunner, Subject
from airlock.filetypes import Kind, detect
from statbarn.text import (
    ENCODED,
    FIELD_RULES,
    IDENTIFIERS,
    MAX_TEXT_BYTES,
    ROW_LEVEL,
    Finding,
    nhs_valid,
    scan,
)

pytestmark = pytest.mark.unit
DEFAULT = sb.load_profile("default")
# 943 476 5919 is the NHS's own example number: 9*10+4*9+3*8+4*7+7*6+6*5+5*4+9*3+1*2 = 299,
# 299 mod 11 = 2, 11 - 2 = 9 = the last digit.  ...5918 has the wrong check digit.
NHS = "9434765919"


def rules_of(found: list[Finding]) -> list[tuple[str, int]]:
    return [(f.rule, f.line) for f in found]


def test_nhs_check_digit_by_hand() -> None:
    assert nhs_valid(NHS.encode())
    assert not nhs_valid(b"9434765918")
    # 401 023 2137: 4*10+0+1*8+0+2*6+3*5+2*4+1*3+3*2 = 92, 92 mod 11 = 4, 11 - 4 = 7.
    assert nhs_valid(b"4010232137")
    # 6*2 = 12, 12 mod 11 = 1, 11 - 1 = 10: no check digit makes 000 000 006x valid
    assert not any(nhs_valid(f"000000006{d}".encode()) for d in range(10))


@pytest.mark.parametrize("text", [
    f"patient {NHS} was seen", "NHS no: 943 476 5919.", "id=943-476-5919;",
])
def test_valid_nhs_numbers_are_found_in_every_layout(text: str) -> None:
    found = scan(f"first line\n{text}\n")
    assert rules_of(found) == [(IDENTIFIERS, 2)]
    assert "NHS number" in found[0].message
    assert "5919" not in found[0].message and "943" not in found[0].message


@pytest.mark.parametrize("text", [
    "9434765918 has a wrong check digit", "943 476-5919 mixes separators",
    "a p-value of 0.9434765919", "version 1.2.3 on 14 sites",
])
def test_what_is_not_an_nhs_number(text: str) -> None:
    assert scan(text) == []


@pytest.mark.parametrize("text", [
    "born 1970-03-02", "dob 02/03/1970", "dob 2.3.1970", "seen 03/02/70", "on 2 March 1970",
    "on 2nd of Mar 1970", "on March 2, 1970", "on 31-12-2019", "on 2019/12/31",
])
def test_full_dates_are_found(text: str) -> None:
    found = scan(text)
    assert [f.rule for f in found] == [IDENTIFIERS] and "full date" in found[0].what
    assert "1970" not in found[0].message and "2019" not in found[0].message


@pytest.mark.parametrize("text", [
    "March 1970", "1970-03", "in 2019 and 2020", "32/01/1970 is no date", "2019-13-01",
    "30/02/1999", "version 3.11.12", "rate 1.5.70",
])
def test_partial_or_impossible_dates_are_not(text: str) -> None:
    assert scan(text) == []


def test_postcodes_emails_and_digit_runs() -> None:
    text = ("lives at SW1A 1AA\nor w1a0ax\nward E05000001 in SW1A 1, district SW1A\n"
            "write to j.smith+x@nhs.example.org\nphone 07700900123\n"
            "p = 0.000000000001234 and 1e-12\n")
    found = scan(text)
    assert [(f.line, f.what.split(" (")[0]) for f in found] == [
        (1, "a full UK postcode"), (2, "a full UK postcode"), (4, "an e-mail address"),
        (5, "a run of 11 digits")]


def test_base64_of_a_file_is_encoded_data_in_one_line_or_wrapped() -> None:
    rng = random.Random(11)
    payload = base64.b64encode(bytes(rng.randrange(256) for _ in range(15_000))).decode()
    assert len(payload) == 20_000
    found = scan("here it is: " + payload)
    assert [(f.rule, f.line) for f in found] == [(ENCODED, 1)]
    assert payload[:12] not in found[0].message
    wrapped = "\n".join(payload[i:i + 64] for i in range(0, 1280, 64))  # 20 PEM-like lines
    found = scan("-----BEGIN-----\n" + wrapped + "\n-----END-----\n")
    assert [f.rule for f in found] == [ENCODED]
    # one block over the payload's lines (this payload's line 2 has no piece of 32
    # characters between its slashes, so the block starts on line 3)
    assert (found[0].line, found[0].last_line) == (3, 21)


def test_hex_escapes_and_dumps_are_encoded_data() -> None:
    data = bytes(range(160, 200))  # hex a0a1...c7: no run of digits
    for text in (data.hex(), "".join(f"%{b:02x}" for b in data),
                 "".join(f"\\x{b:02x}" for b in data), " ".join(f"{b:02x}" for b in data)):
        assert [f.rule for f in scan(text)] == [ENCODED], text[:20]


@pytest.mark.parametrize("text", [
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 of the file",
    "see /home/jovyan/outputs/tables/by_region_2024/final_version_of_the_tables.csv",
    "PatientCohortDefinitionVersion2024 and sklearn.linear_model.LogisticRegression",
    "=" * 80 + "\n" + "-" * 80,
    "The model was fitted, adjusted for age and sex, to every patient in the cohort.\n" * 30,
])
def test_ordinary_text_has_no_findings(text: str) -> None:
    assert scan(text) == []


def records(n: int, sep: str = ",") -> str:
    return "\n".join(sep.join([f"p{i}", "M" if i % 2 else "F", str(30 + i % 50), "E05"])
                     for i in range(n))


def test_rows_of_records_are_row_level_data() -> None:
    found = scan("age,sex\n\n" + records(25))
    assert [(f.rule, f.line, f.last_line) for f in found] == [(ROW_LEVEL, 3, 27)]
    assert "25 lines of 4 fields separated by commas" in found[0].what
    assert scan(records(19)) == []  # under 20 lines: a file's small table, for a person
    assert [f.rule for f in scan(records(5), FIELD_RULES)] == [ROW_LEVEL]  # a context: 5
    assert [f.rule for f in scan(records(25, "\t"))] == [ROW_LEVEL]
    assert [f.rule for f in scan(records(25, "|"))] == [ROW_LEVEL]
    # blank lines between records do not hide them
    assert [f.rule for f in scan(records(25).replace("\n", "\n\n"))] == [ROW_LEVEL]


@pytest.mark.parametrize("text", [
    "1" * 1_000_000, "a" * 1_000_000 + "@", "a." * 500_000, "A1" * 500_000, "1/" * 500_000,
    "1-" * 500_000, "ab " * 300_000, "%4" * 500_000, "\n" * 1_000_000, ",\n" * 500_000,
    "2 " * 500_000 + "March", "SW1A " * 200_000, "@a." * 300_000, "=" * 1_000_000,
])
def test_pathological_inputs_are_one_pass(text: str) -> None:
    """Inputs that make a backtracking pattern quadratic or worse; each must finish
    (a catastrophic pattern would not, on a megabyte) and give at most a few findings."""
    assert len(scan(text)) <= 3


def test_long_runs_of_one_kind_are_counted_not_listed() -> None:
    found = scan((f"{NHS}\n") * 5000)
    assert 0 < len(found) <= 1000  # at most MAX_MATCHES per pattern are looked at


# ---- one answer for one file: `tre check` (statbarn.check_file) and the airlock -----------------

FILES = {
    "notes.txt": ("The counts were rounded to 5 and cells under 10 suppressed.\n", "escalate"),
    "people.txt": (f"name,nhs\nAnn,{NHS}\n", "fail"),
    "report.md": ("# Results\n\nBorn on 2 March 1970, the oldest patient...\n", "fail"),
    "blob.json": ('{"x": "' + base64.b64encode(bytes(range(256)) * 4).decode() + '"}', "fail"),
    "model.json": ('{"coef": {"age": 0.31, "sex": -0.12}, "n": 2000}', "escalate"),
    "rows.md": ("| id | age |\n|---|---|\n" + records(30, "|"), "fail"),
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_tre_check_and_the_airlock_decide_alike(tmp_path: Path, name: str) -> None:
    text, verdict = FILES[name]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    local = sb.check_file(path, profile=DEFAULT)
    kind = detect(path, name, max_parse_bytes=1 << 20).kind
    assert kind in (Kind.TEXT, Kind.MARKDOWN, Kind.JSON)
    work = tmp_path / "work"
    work.mkdir()
    airlock = CheckRunner(DEFAULT, [], 1 << 20, work).run(Subject(path, name, kind))
    assert local.verdict.value == airlock.verdict == verdict
    if verdict == "fail":
        failing = [c for c in local.checks if c.verdict.value == "fail"]
        assert failing and all(c.cells for c in failing)
        assert all(c.message.startswith(("line ", "lines ")) for f in failing for c in f.cells)
        assert NHS not in str(airlock.records[0].result)  # the identifier is never repeated
        assert any(r.startswith(("line ", "lines ")) for r in airlock.reasons)


def test_text_over_the_scan_limit_fails_with_the_limit_in_mb(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with open(path, "wb") as fh:
        fh.write(b"x" * (MAX_TEXT_BYTES + 1))
    a = sb.check_file(path, profile=DEFAULT)
    assert a.verdict.value == "fail"
    assert "8 MB" in a.check(IDENTIFIERS).summary  # type: ignore[union-attr]


def test_postcode_at_the_start_of_a_line_and_of_the_text() -> None:
    found = scan("SW1A 1AA\nfirst\nM1 1AE is in Manchester\nxM1 1AE is not one\n")
    assert [(f.line, f.what) for f in found] == [(1, "a full UK postcode"),
                                                 (3, "a full UK postcode")]


def test_json_lists_of_records_are_row_level_however_laid_out(tmp_path: Path) -> None:
    import json

    people = [{"age": 30 + i % 40, "sex": "FM"[i % 2], "ward": f"W{i % 7}"} for i in range(25)]
    for text in (json.dumps(people), json.dumps({"data": {"rows": people}}, indent=2),
                 json.dumps([[p["age"], p["sex"]] for p in people])):
        path = tmp_path / "out.json"
        path.write_text(text)
        a = sb.check_file(path, profile=DEFAULT)
        assert a.verdict.value == "fail"
        flags = a.check(ROW_LEVEL).cells  # type: ignore[union-attr]
        assert len(flags) == 1 and "a list of 25 records with the same" in flags[0].message
    fine = {"coef": [{"term": "age", "estimate": 0.3}, {"term": "sex", "estimate": -0.1}],
            "n": 2000}
    path.write_text(json.dumps(fine))
    assert sb.check_file(path, profile=DEFAULT).verdict.value == "escalate"
    path.write_text("[" * 100_000 + "]" * 100_000)  # too deep to parse: no crash
    assert sb.check_file(path, profile=DEFAULT).verdict.value == "escalate"
