"""Settings of uploaded files (``[files]`` in the config, ``CONG_FILES__*``): where their
contents live (a local folder or an S3-compatible store), the limits, the reading of
archives and documents, and how files enter a chat. Part of ``cong.settings``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator


class S3Settings(BaseModel):
    """An S3-compatible object store for file contents (``files.store = "s3"``)."""

    endpoint_url: str | None = Field(
        None, description="e.g. https://s3.example.com or http://minio:9000; None: AWS S3"
    )
    bucket: str = Field("", description="the bucket (it must exist)")
    region: str | None = Field(None, description="e.g. us-east-1")
    access_key_id: SecretStr | None = Field(
        None, description="None: the AWS SDK's own chain (environment, profile, instance role)"
    )
    secret_access_key: SecretStr | None = None
    prefix: str = Field("", description="before every object key, e.g. cong/")
    addressing_style: Literal["auto", "path", "virtual"] = Field(
        "auto", description="path: http://host/bucket/key (most self-hosted stores)"
    )
    spool_dir: Path | None = Field(
        None, description="where an upload waits while it is checked; default: the system's"
    )


class FilesSettings(BaseModel):
    """Uploaded files (``/v1/files``): where they live and how much a user may keep."""

    store: Literal["local", "s3"] = Field(
        "local", description="local: files.dir; s3: the bucket in files.s3"
    )
    dir: Path | None = Field(
        None, description="where file contents live; default: <data_dir>/files"
    )
    s3: S3Settings = Field(default_factory=S3Settings)
    max_file_bytes: int = Field(
        25 * 1024 * 1024, ge=1, description="largest upload; also bounded by max_body_bytes"
    )
    user_quota_bytes: int = Field(
        1024 * 1024 * 1024, ge=0, description="total size of one user's files"
    )
    archive_max_members: int = Field(1000, ge=1, description="entries in one ZIP archive")
    archive_max_bytes: int = Field(
        200 * 1024 * 1024, ge=1, description="a ZIP archive's unpacked size, all entries"
    )
    archive_max_ratio: int = Field(
        100, ge=1, description="unpacked / packed size of an archive entry (zip bombs)"
    )
    extract_timeout: float = Field(30.0, gt=0, description="seconds to read one file")
    extract_memory_mb: int = Field(1024, ge=128, description="memory of the reading process")
    extract_max_chars: int = Field(
        2_000_000, ge=1000, description="text kept from one file (the rest is cut)"
    )
    whole_max_tokens: int = Field(
        16_000,
        ge=100,
        description="a file's text up to this many tokens (and half the model's context) "
        "goes into a chat whole; a longer one by retrieval over its chunks",
    )
    chunk_tokens: int = Field(300, ge=50, le=4000, description="size of a long file's chunks")
    retrieved_tokens: int = Field(
        6_000,
        ge=100,
        description="chunks of one long file sent with a question (at most a third of "
        "the model's context)",
    )
    embedding_model: str | None = Field(
        None, description="model that embeds file chunks; default: memory.embedding_model"
    )
    result_files: bool = Field(
        True, description="offer models a create_file tool (or collect named code blocks)"
    )

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> FilesSettings:
        if self.store == "s3" and not self.s3.bucket:
            raise ValueError('files.store = "s3" needs files.s3.bucket')
        return self
