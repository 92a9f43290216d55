"""audit log as a Merkle tree (leaf hashes, the head's compact range); sealed votes

Revision ID: 0006_audit_merkle
Revises: 0005_airlock_canonical
Create Date: 2026-12-04

Existing events keep their order and contents; their stored hash becomes the RFC 6962
leaf hash and the head gets the tree's root and compact range.  Run ``tre audit verify``
*before* upgrading (the old chain is checked by the old code), then ``tre audit
checkpoint`` once after, so the converted log is anchored at once.
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0006_audit_merkle"
down_revision = "0005_airlock_canonical"
branch_labels = None
depends_on = None


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def _events(conn: sa.Connection) -> list[sa.Row[tuple[object, ...]]]:
    return list(conn.execute(sa.text(
        "SELECT seq, at, actor, action, object_type, object_id, project, details "
        "FROM audit_events ORDER BY seq")))


def upgrade() -> None:
    # Written against the tables, not the models, so later model changes cannot alter it.
    from tre import merkle

    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(sa.Column("frontier", sa.Text(), nullable=False, server_default="[]"))
    with op.batch_alter_table("airlock_votes") as batch:
        batch.add_column(sa.Column("seal", sa.Text(), nullable=True))
    conn = op.get_bind()
    compact = merkle.CompactRange()
    for row in _events(conn):
        data = _canonical([row.seq, row.at, row.actor, row.action, row.object_type,
                           row.object_id, row.project, row.details]).encode()
        leaf = merkle.leaf_hash(data)
        compact.append(leaf)
        conn.execute(sa.text("UPDATE audit_events SET hash = :h WHERE seq = :s"),
                     {"h": leaf.hex(), "s": row.seq})
    conn.execute(sa.text("UPDATE audit_head SET seq = :n, hash = :r, frontier = :f WHERE id = 1"),
                 {"n": compact.size, "r": compact.root().hex(),
                  "f": json.dumps([h.hex() for h in compact.hashes])})
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("prev_hash")
    if conn.dialect.name == "postgresql":  # provisional places of queued events
        op.execute("CREATE SEQUENCE audit_pending_seq")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE audit_pending_seq")
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=False,
                                   server_default="0" * 64))
    conn = op.get_bind()
    prev = "0" * 64
    for row in _events(conn):  # the old chain: SHA-256(prev_hash "\n" canonical(fields))
        body = _canonical([row.seq, row.at, row.actor, row.action, row.object_type,
                           row.object_id, row.project, row.details])
        digest = hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()
        conn.execute(sa.text("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE seq = :s"),
                     {"p": prev, "h": digest, "s": row.seq})
        prev = digest
    count = conn.execute(sa.text("SELECT count(*) FROM audit_events")).scalar_one()
    conn.execute(sa.text("UPDATE audit_head SET seq = :n, hash = :h WHERE id = 1"),
                 {"n": count, "h": prev})
    with op.batch_alter_table("airlock_votes") as batch:
        batch.drop_column("seal")
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("frontier")
