"""The airlock's S3 store backend, against an S3 EMULATOR: moto's server.

NOTE: this is an emulator, not AWS S3 or MinIO.  moto's server mode
(``moto.server.ThreadedMotoServer``) is a real HTTP endpoint on loopback speaking the
S3 REST protocol (SigV4-signed requests from boto3, multipart uploads, listings,
checksums), started by the test on a free port; no packet leaves this machine.
Behaviour specific to a real store (eventual consistency of old AWS regions, Object
Lock, bucket policies) is not tested here; docs/kubernetes.md says what the bucket
must enforce.  When moto is not installed the tests fail in CI and are skipped
elsewhere, loudly.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airlock.settings import load_airlock_settings
from airlock.store import Store, StoreError, TamperedError, open_store
from tre.settings import SettingsError, load_settings

pytestmark = pytest.mark.integration
BUCKET = "tre-airlock-test"
CREDS = {"AWS_ACCESS_KEY_ID": "tre-test-key", "AWS_SECRET_ACCESS_KEY": "tre-test-secret"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        message = f"NO S3 EMULATOR (moto[s3] with flask), S3 store tests NOT RUN: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh bucket; the standard AWS credential variables, as the chart sets them."""
    import boto3

    for key, value in CREDS.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    name = f"{BUCKET}-{secrets.token_hex(4)}"
    client.create_bucket(Bucket=name)
    return client, name, s3_endpoint


def _store(s3: Any, root: Path, **extra: Any) -> Store:
    _, bucket, endpoint = s3
    platform = load_settings(data_dir=root, environment="development")
    settings = load_airlock_settings(platform, store_backend="s3", s3_bucket=bucket,
                                     s3_endpoint_url=endpoint, s3_prefix="airlock/", **extra)
    return open_store(settings)


def test_blobs_are_content_addressed_objects(s3: Any, tmp_path: Path) -> None:
    client, bucket, _ = s3
    store = _store(s3, tmp_path)
    sha = store.put_bytes(b"a,b\n1,2\n")
    assert sha == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [f"airlock/{sha[:2]}/{sha}"]
    assert client.get_object(Bucket=bucket, Key=keys[0])["Body"].read() == b"a,b\n1,2\n"
    assert store.put_bytes(b"a,b\n1,2\n") == sha  # same content: the same object
    assert store.exists(sha) and not store.exists("0" * 64)
    out = io.BytesIO()
    assert store.copy_verified(sha, out) == 8 and out.getvalue() == b"a,b\n1,2\n"
    assert list(store.all_blobs()) == [sha]
    assert list(store.tmp.iterdir()) == []  # nothing left on the scratch disk
    assert not (tmp_path / "airlock" / "store" / "blobs").exists()  # nothing local


def test_an_object_changed_in_the_bucket_is_refused(s3: Any, tmp_path: Path) -> None:
    client, bucket, _ = s3
    store = _store(s3, tmp_path)
    sha = store.put_bytes(b"region,n\nNorth,12\n")
    client.put_object(Bucket=bucket, Key=f"airlock/{sha[:2]}/{sha}", Body=b"region,n\nN,1\n")
    with pytest.raises(TamperedError, match="no longer matches"):
        store.copy_verified(sha, io.BytesIO())
    assert not store.verify(sha)
    with pytest.raises(TamperedError):
        store.read_bytes(sha, 1000)
    with store.work_dir() as work, pytest.raises(TamperedError):
        store.local_file(sha, work)
    with pytest.raises(StoreError, match="missing"):
        list(store.chunks("1" * 64))
    with pytest.raises(StoreError, match="not a SHA-256"):
        store.exists("../../etc/passwd")


def test_large_files_go_up_in_parts_and_come_back_whole(s3: Any, tmp_path: Path) -> None:
    client, bucket, _ = s3
    store = _store(s3, tmp_path)
    data = secrets.token_bytes(20 * 1024**2 + 123)  # 3 parts of 8 MiB
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    sha = store.put_file(source)
    head = client.head_object(Bucket=bucket, Key=f"airlock/{sha[:2]}/{sha}")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-3")  # a multipart upload of 3 parts
    digest = hashlib.sha256()
    for block in store.chunks(sha):
        digest.update(block)
    assert digest.hexdigest() == sha == hashlib.sha256(data).hexdigest()


def test_local_file_is_a_verified_copy_inside_the_work_dir(s3: Any, tmp_path: Path) -> None:
    store = _store(s3, tmp_path)
    sha = store.put_bytes(b"x,y\n3,4\n")
    with pytest.raises(StoreError, match="not on local disk"):
        store.path(sha)
    with store.work_dir() as work:
        copy = store.local_file(sha, work)
        assert copy.parent.parent == work and copy.read_bytes() == b"x,y\n3,4\n"
        assert store.local_file(sha, work) == copy  # fetched once per work dir
    assert not copy.exists()


def test_the_sweep_keeps_young_orphans_for_other_replicas(s3: Any, tmp_path: Path) -> None:
    store = _store(s3, tmp_path)
    keep, orphan = store.put_bytes(b"kept"), store.put_bytes(b"orphan")
    (store.tmp / "999999999-abcd.part").write_bytes(b"x")
    # stored a moment ago: another replica may be about to record it
    assert store.sweep(referenced={keep}, older_than=3600).orphan_blobs == 0
    assert store.exists(orphan)
    result = store.sweep(referenced={keep}, older_than=0)
    assert (result.temp_files, result.orphan_blobs) == (0, 1)  # the temp went first time
    assert store.exists(keep) and not store.exists(orphan)


def test_an_unreachable_store_is_a_sentence_not_a_traceback(tmp_path: Path) -> None:
    import boto3
    from botocore.config import Config

    from airlock.store_s3 import S3Blobs

    client = boto3.client("s3", endpoint_url="http://127.0.0.1:9", region_name="us-east-1",
                          aws_access_key_id="k", aws_secret_access_key="s",
                          config=Config(retries={"max_attempts": 1}, connect_timeout=1))
    store = Store(tmp_path, blobs=S3Blobs(client, BUCKET))
    with pytest.raises(StoreError, match=f"the object store \\(bucket {BUCKET}\\) refused to "):
        store.put_bytes(b"data")
    assert list(store.tmp.iterdir()) == []


def test_s3_needs_a_bucket_and_a_valid_one(tmp_path: Path) -> None:
    platform = load_settings(data_dir=tmp_path, environment="development")
    with pytest.raises(SettingsError, match="STORE_BACKEND=s3 needs TRE_AIRLOCK_S3_BUCKET"):
        load_airlock_settings(platform, store_backend="s3")
    with pytest.raises(SettingsError, match="TRE_AIRLOCK_S3_BUCKET"):
        load_airlock_settings(platform, store_backend="s3", s3_bucket="Not_A_Bucket")
    with pytest.raises(SettingsError, match="TRE_AIRLOCK_S3_ENDPOINT_URL"):
        load_airlock_settings(platform, s3_endpoint_url="minio:9000")


def test_the_airlock_releases_and_refuses_tampering_on_s3(s3: Any, tmp_path: Path) -> None:
    """The whole airlock on the S3 backend: submit, automatic release, bundle download
    re-hashed from the bucket; a changed object is refused and audited."""
    import zipfile

    from tests.harness.airlock import api_env, safe_table
    from tre.db import upgrade

    client, bucket, endpoint = s3
    db_url = f"sqlite:///{tmp_path / 'tre.db'}"
    upgrade(db_url)
    with api_env(db_url, tmp_path / "data", store_backend="s3", s3_bucket=bucket,
                 s3_endpoint_url=endpoint, s3_prefix="airlock/",
                 scratch_dir=tmp_path / "scratch") as (api, h):
        req = api.submit_table("alice", safe_table(tmp_path)).json()
        assert req["state"] == "released", req
        bundle = api.bundle("alice", req["id"])
        assert bundle.status_code == 200, bundle.text
        names = zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()
        assert "files/by_region.csv" in names
        sha = req["files"][0]["sha256"]
        client.put_object(Bucket=bucket, Key=f"airlock/{sha[:2]}/{sha}", Body=b"changed")
        refused = api.bundle("alice", req["id"])
        assert refused.status_code == 500 and refused.json()["code"] == "integrity"
        assert list((tmp_path / "scratch").iterdir()) == []
        from tre import audit
        from tre.db import transaction

        with transaction(h.ctx.db) as session:
            acts = [e.action for e in audit.iter_events(session)]
        assert "airlock.integrity.refused" in acts
