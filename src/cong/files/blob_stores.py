"""The store the settings ask for: the files directory, or an S3-compatible bucket
(``files.store``). The S3 client is imported only when it is used."""

from __future__ import annotations

from cong.files.blobs import BlobStore, LocalBlobStore
from cong.settings import Settings


def open_blob_store(settings: Settings) -> BlobStore:
    if settings.files.store == "s3":
        from cong.files.s3_blobs import S3BlobStore

        return S3BlobStore(settings.files.s3)
    return LocalBlobStore(settings.files_dir)
