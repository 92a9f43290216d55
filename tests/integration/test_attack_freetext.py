"""Free text an outside caller reads (attack review): a request's free text bounded in
total and kept from automatic release above a paragraph; a draft's dataset field hidden;
the refusal endpoint's path scanned before it enters the audit log.
"""

from __future__ import annotations

import json
import random
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness.airlock import Api, Harness, api_env, auth
from tre import audit
from tre.db import transaction

pytestmark = pytest.mark.integration

# Plain identifiers any scan should refuse: a full date, a full postcode, a valid NHS
# number (943 476 5919 has a valid modulus-11 check digit), an e-mail address.
REC = "Smith John 1950-03-02 SW1A 1AA 9434765919 john.smith@example.com"
WORDS = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
    "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra",
    "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "north", "south",
    "east", "west", "upper", "lower",
)


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness, Any]]:
    """(inside api, harness, outside TestClient)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    with api_env(db_url, tmp_path / "data") as (api, h), TestClient(h.app) as outside:
        yield api, h, outside


def words(data: bytes) -> str:
    """5 bits a word: no digits, no entropy a base64 detector sees."""
    bits = "".join(f"{x:08b}" for x in data)
    bits += "0" * (-len(bits) % 5)
    return " ".join(WORDS[int(bits[i:i + 5], 2)] for i in range(0, len(bits), 5))


def records(n: int) -> bytes:
    rng = random.Random(1)
    return "".join(f"{9000000000 + i},{rng.choice(['Smith', 'Jones'])},19{rng.randint(30, 99)}-"
                   f"0{rng.randint(1, 9)}-1{rng.randint(0, 9)},LS{rng.randint(1, 9)} "
                   f"{rng.randint(1, 9)}AB\n" for i in range(n)).encode()


def count_files(n: int) -> list[tuple[str, bytes]]:
    return [(f"t{i}.csv", f"region,count\nNorth,{25 + i}\nSouth,30\n".encode())
            for i in range(n)]


def test_a_drafts_dataset_field_is_not_readable_outside(env: Any) -> None:
    api, _, outside = env
    secret = "smith-john-born-march-1950-leeds-ls1"
    r = api.submit("alice", [("a.txt", b"prose about the analysis\n")], context="notes",
                   extra={"draft": "true", "dataset": secret})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    seen = outside.get(f"/api/requests/{rid}", headers=auth("alice")).json()
    assert seen.get("content_hidden")
    listed = outside.get("/api/requests?scope=mine", headers=auth("alice")).text
    assert secret not in json.dumps(seen) and secret not in listed, \
        "the dataset field of a draft (200 free characters) is read from outside"


def test_free_text_of_an_automatic_release_is_bounded_in_total(env: Any) -> None:
    """Word-encoded records pass every free-text scan; with 43 files, each with its own
    context, a request carried 144,720 characters: refused above the request's budget."""
    api, _, outside = env
    payload = records(400)
    chunks = [words(payload[i:i + 340]) for i in range(0, len(payload), 340)]
    files = count_files(len(chunks))
    manifest = [{"name": n, "statistic": "count", "context": "counts. " + c}
                for (n, _), c in zip(files, chunks, strict=True)]
    r = api.submit("alice", files, context="counts", manifest=manifest)
    assert r.status_code in (201, 422), r.text
    if r.status_code == 201 and r.json()["state"] == "released":
        seen = outside.get(f"/api/requests/{r.json()['id']}", headers=auth("alice")).json()
        carried = sum(len(f["context"]) for f in seen["files"])
        raise AssertionError(f"{carried} characters of free text ({len(payload)} bytes of "
                             "records) left automatically, read from outside")
    assert r.status_code == 422
    # every file has its own context: the request's "counts" is stored nowhere, not counted
    total = sum(len("counts. " + c) for c in chunks)
    assert total == 144_720
    assert r.json()["detail"] == (
        f"the request carries {total:,} characters of free text (contexts, exception "
        "requests, populations) in all; at most 12,000 are accepted: say what each file is "
        "in a sentence or two, and give one context for the request rather than one per file")


def test_more_than_a_paragraph_of_free_text_goes_to_a_person(env: Any) -> None:
    """Under the request's budget but over the automatic-release limit (1,000): review."""
    api, _, _ = env
    chunk = words(records(1))  # one record spelt in words
    files = count_files(4)
    manifest = [{"name": n, "statistic": "count", "context": f"counts {i}. {chunk}"}
                for i, (n, _) in enumerate(files)]
    r = api.submit("alice", files, context="counts", manifest=manifest)
    assert r.status_code == 201, r.text
    req = r.json()
    total = 4 * len(f"counts 0. {chunk}")
    assert 1000 < total < 12_000
    assert req["state"] == "in_review", req["state"]
    assert any(f"carries {total:,} characters of free text" in m["message"]
               for m in req["decision"]["reasons"]), req["decision"]
    # The same tables with one short context still leave automatically.
    r = api.submit("alice", count_files(4), context="counts of patients by region",
                   manifest=[{"name": n, "statistic": "count"} for n, _ in count_files(4)])
    assert r.status_code == 201 and r.json()["state"] == "released", r.text


def test_a_refusals_path_is_scanned_before_it_enters_the_audit_log(env: Any) -> None:
    """1,000 characters of 'path' per call, stored as the audit event's object_id with no
    scan: the audit export (read outside) carried it."""
    api, _, _ = env
    payload = f"outputs/{REC}"  # NHS number, date of birth, postcode, e-mail
    r = api.post("alice", "/api/workspace/refusals",
                 json={"project": "demo-project", "path": payload, "route": "contents",
                       "reason": "binary"})
    assert r.status_code != 201, "identifiers recorded verbatim in the audit log"
    assert r.status_code == 422 and r.json()["detail"].startswith(
        "the refused file's path cannot be accepted: ")
    _, h, _ = env
    with transaction(h.ctx.db) as s:
        logged = [e.as_dict() for e in audit.iter_events(s) if e.action == "workspace.refusal"]
    [event] = logged  # the refusal itself stays in the log, without the path
    assert event["object_id"] == "(path withheld)"
    assert "9434765919" not in json.dumps(logged) and "john.smith" not in json.dumps(logged)
    # A long, clean path is kept to its last 197 characters.
    long = "outputs/" + "/".join(["figures"] * 60) + "/final.png"
    assert len(long) > 400
    r = api.post("alice", "/api/workspace/refusals",
                 json={"project": "demo-project", "path": long, "route": "contents",
                       "reason": "binary"})
    assert r.status_code == 201, r.text
    with transaction(h.ctx.db) as s:
        ids = [e.object_id for e in audit.iter_events(s) if e.action == "workspace.refusal"]
    assert ids[-1] == "..." + long[-197:] and len(ids[-1]) == 200
