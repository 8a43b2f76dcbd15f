"""File contents in an S3-compatible bucket (AWS S3, MinIO, Ceph, Garage, R2, …), through
the AWS SDK for Python (boto3). An upload waits in an unnamed temporary file (deleted
when closed, never in the data dir) while it is counted and checked, and becomes an
object only when it is committed. Errors name the operation and the store's code, never
the credentials."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import boto3
from boto3.exceptions import Boto3Error
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cong.file_settings import S3Settings
from cong.files.blobs import CHUNK, BlobStore, BlobWriter, StoreFailed, is_file_id


def _failure(operation: str, error: Exception) -> StoreFailed:
    if isinstance(error, Boto3Error) and isinstance(error.__context__, ClientError):
        error = error.__context__  # the managed upload wraps the store's answer
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code") or "error"
        return StoreFailed(f"S3 {operation}: {code}")
    return StoreFailed(f"S3 {operation}: {type(error).__name__}")


@contextmanager
def _calling(operation: str) -> Iterator[None]:
    try:
        yield
    except (BotoCoreError, ClientError, Boto3Error) as error:
        raise _failure(operation, error) from None


class S3Writer(BlobWriter):
    def __init__(self, store: S3BlobStore, file_id: str, limit: int) -> None:
        super().__init__(file_id, limit)
        self._store = store
        spool = store.settings.spool_dir
        self._spool: IO[bytes] = tempfile.TemporaryFile(dir=spool)  # noqa: SIM115
        self._stored = False

    def _append(self, data: bytes) -> None:
        self._spool.write(data)

    @contextmanager
    def reading(self) -> Iterator[IO[bytes]]:
        self._spool.flush()
        self._spool.seek(0)
        try:
            yield self._spool
        finally:
            self._spool.seek(0, 2)

    def close(self) -> None:
        self._spool.flush()

    def commit(self) -> None:
        self._spool.flush()
        self._spool.seek(0)
        with _calling("upload"):
            self._store.client.upload_fileobj(
                self._spool, self._store.bucket, self._store.key(self.file_id)
            )
        self._stored = True
        self._spool.close()

    def abort(self) -> None:
        self._spool.close()
        if self._stored:
            self._store.delete(self.file_id)


def _body_chunks(body: Any) -> Iterator[bytes]:
    try:
        with _calling("download"):
            yield from body.iter_chunks(CHUNK)
    finally:
        body.close()


class S3BlobStore(BlobStore):
    """The bucket ``settings.bucket``; object keys are ``prefix + file id``."""

    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        key_id = settings.access_key_id
        secret = settings.secret_access_key
        self.client = boto3.client(
            "s3",
            endpoint_url=settings.endpoint_url or None,
            region_name=settings.region or None,
            aws_access_key_id=key_id.get_secret_value() if key_id else None,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=Config(
                s3={"addressing_style": settings.addressing_style},
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=10,
                read_timeout=60,
                # self-hosted stores do not all know the newer default checksums
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def key(self, file_id: str) -> str:
        if not is_file_id(file_id):
            raise ValueError("not a file id")
        return self.settings.prefix + file_id

    def writer(self, file_id: str, limit: int) -> BlobWriter:
        return S3Writer(self, file_id, limit)

    def _get(self, file_id: str) -> Any:
        with _calling("download"):
            return self.client.get_object(Bucket=self.bucket, Key=self.key(file_id))["Body"]

    def chunks(self, file_id: str) -> Iterator[bytes]:
        return _body_chunks(self._get(file_id))

    def read(self, file_id: str) -> bytes:
        body = self._get(file_id)
        try:
            with _calling("download"):
                data: bytes = body.read()
                return data
        finally:
            body.close()

    def delete(self, file_id: str) -> None:
        with _calling("delete"):
            self.client.delete_object(Bucket=self.bucket, Key=self.key(file_id))

    def close(self) -> None:
        self.client.close()
