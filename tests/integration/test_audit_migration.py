"""Upgrading a log written as a hash chain: the events keep their order and contents and
become the Merkle tree's leaves; verification says "unanchored" until a checkpoint."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import POSTGRES_URL, _postgres_schema_url
from tre import audit, merkle, notary
from tre.db import make_engine, session_factory, transaction, upgrade


@pytest.fixture(params=["sqlite", "postgresql"])
def old_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _postgres_schema_url(schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_a_hash_chained_log_is_converted(old_url: str) -> None:
    upgrade(old_url, "0004_catalog")
    engine = make_engine(old_url)
    prev, rows = "0" * 64, []
    for seq in range(1, 6):  # written by the old code's formula
        fields = [seq, f"2026-01-0{seq}T00:00:00.000000+00:00", "alice", "x", "t", f"o{seq}",
                  "p", json.dumps({"n": seq})]
        body = audit.canonical(fields)
        digest = hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()
        rows.append({"seq": seq, "at": fields[1], "actor": "alice", "action": "x",
                     "object_type": "t", "object_id": f"o{seq}", "project": "p",
                     "details": fields[7], "prev_hash": prev, "hash": digest})
        prev = digest
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_events (seq, at, actor, action, object_type, "
                          "object_id, project, details, prev_hash, hash) VALUES (:seq, :at, "
                          ":actor, :action, :object_type, :object_id, :project, :details, "
                          ":prev_hash, :hash)"), rows)
        conn.execute(text("UPDATE audit_head SET seq = 5, hash = :h WHERE id = 1"), {"h": prev})
    engine.dispose()
    upgrade(old_url)
    engine = make_engine(old_url)
    db = session_factory(engine)
    with transaction(db) as s:
        result = audit.verify(s)
        assert not result.ok and result.attack == "unanchored" and result.events == 5
        head = s.get(audit.AuditHead, 1)
        assert head is not None and head.seq == 5
        leaves = [audit.event_leaf(e) for e in audit.iter_events(s)]
        assert head.hash == merkle.root(leaves).hex()
        assert [e.object_id for e in audit.iter_events(s)] == [f"o{i}" for i in range(1, 6)]
    notary.default().checkpoint(head.seq, bytes.fromhex(head.hash))  # tre audit checkpoint
    with transaction(db) as s:
        audit.record(s, actor="bob", action="y", object_type="t", object_id="o6")
    with transaction(db) as s:
        result = audit.verify(s)
    assert result.ok and result.events == 6 and result.checkpoints == 2
    engine.dispose()
