"""The airlock's blobs in an S3-compatible object store (AWS S3, MinIO, Ceph RGW ...).

A blob is the object ``<prefix><ab>/<sha256>`` of one bucket.  Nothing else about the
store changes (:class:`airlock.store.Store`): uploads are still received and hashed on
local scratch disk, and every read that leaves the airlock re-hashes the bytes, so an
object changed in the bucket is refused, not served.

boto3 is the client: SigV4 signing, multipart uploads of large files, retries and
the standard credential chain (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` from a
Kubernetes Secret, or a workload identity) are its job, and a signer of our own would
be one more thing to get wrong.  Credentials never pass through tre's settings.

Immutability is the bucket's to enforce as well (versioning or Object Lock, and a
policy that lets only the airlock write): see docs/kubernetes.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlock.store import CHUNK, StoreError

if TYPE_CHECKING:
    from airlock.settings import AirlockSettings

_KEY = re.compile(r"^[0-9a-f]{2}/([0-9a-f]{64})$")
# Files above this go up in parts of this size (S3's minimum part is 5 MiB).
MULTIPART_BYTES = 8 * 1024**2


def _missing(exc: Exception) -> bool:
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class S3Blobs:
    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import BotoCoreError, ClientError

        self.client, self.bucket, self.prefix = client, bucket, prefix
        self._errors: tuple[type[Exception], ...] = (ClientError, BotoCoreError)
        self._client_error = ClientError
        self._transfer = TransferConfig(multipart_threshold=MULTIPART_BYTES,
                                        multipart_chunksize=MULTIPART_BYTES)

    @classmethod
    def from_settings(cls, a: AirlockSettings) -> S3Blobs:
        import boto3
        from botocore.config import Config

        config = Config(retries={"max_attempts": 5, "mode": "standard"},
                        s3={"addressing_style": "path" if a.s3_endpoint_url else "auto"},
                        connect_timeout=10, read_timeout=60)
        client = boto3.client("s3", endpoint_url=a.s3_endpoint_url or None,
                              region_name=a.s3_region, config=config)
        return cls(client, a.s3_bucket, a.s3_prefix)

    def key(self, sha256: str) -> str:
        return f"{self.prefix}{sha256[:2]}/{sha256}"

    def _fail(self, what: str, exc: Exception) -> StoreError:
        return StoreError(f"the object store (bucket {self.bucket}) refused to {what}: {exc}")

    def exists(self, sha256: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
        except self._client_error as exc:
            if _missing(exc):
                return False
            raise self._fail("say whether a file is stored", exc) from None
        except self._errors as exc:
            raise self._fail("say whether a file is stored", exc) from None
        return True

    def put(self, sha256: str, path: Path) -> None:
        try:
            # S3 checks the SHA-256 of what arrives (each part's, for a multipart upload).
            self.client.upload_file(str(path), self.bucket, self.key(sha256),
                                    ExtraArgs={"ChecksumAlgorithm": "SHA256"},
                                    Config=self._transfer)
        except self._errors as exc:
            raise self._fail("store a file", exc) from None

    def chunks(self, sha256: str) -> Iterator[bytes]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key(sha256))["Body"]
        except self._client_error as exc:
            if _missing(exc):
                raise StoreError(f"stored file {sha256[:12]}... is missing") from None
            raise self._fail("read a file", exc) from None
        except self._errors as exc:
            raise self._fail("read a file", exc) from None
        try:
            yield from body.iter_chunks(CHUNK)
        except self._errors as exc:
            raise self._fail("read a file", exc) from None
        finally:
            body.close()

    def delete(self, sha256: str) -> bool:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key(sha256))
        except self._errors as exc:
            raise self._fail("delete a file", exc) from None
        return True

    def listing(self) -> Iterator[tuple[str, float]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix)
        try:
            for page in pages:
                for obj in page.get("Contents", []):
                    match = _KEY.match(obj["Key"][len(self.prefix):])
                    if match:
                        yield match.group(1), obj["LastModified"].timestamp()
        except self._errors as exc:
            raise self._fail("list the stored files", exc) from None

    def local_path(self, sha256: str) -> Path | None:
        return None
