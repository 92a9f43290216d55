"""Several processes migrating one PostgreSQL at once: the chart's migrations Job, the
hub and N airlock replicas each run the upgrade when they start; all must succeed."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import POSTGRES_URL, _postgres_schema_url

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def empty_schema() -> Iterator[str]:
    schema = f"m_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # loud, not silent
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is not usable: {exc}")
    try:
        yield _postgres_schema_url(schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_four_processes_migrating_at_once_all_succeed(empty_schema: str) -> None:
    code = "import sys; from tre.db import upgrade; upgrade(sys.argv[1])"
    procs = [subprocess.Popen([sys.executable, "-c", code, empty_schema], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(4)]
    results = [(p.wait(timeout=300), p.stdout.read() if p.stdout else "") for p in procs]
    assert [rc for rc, _ in results] == [0, 0, 0, 0], "\n".join(out for _, out in results)
    engine = create_engine(empty_schema)
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    assert len(versions) == 1
