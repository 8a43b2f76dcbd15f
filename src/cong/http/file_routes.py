"""``/v1/files``: OpenAI's Files API (upload, list, retrieve, content, delete), served
by ``http.front`` like the other ``/v1`` endpoints. Contents are sent as downloads that a
browser will neither render nor sniff."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.types import ASGIApp, Receive, Scope, Send

from cong.files.service import FileInfo, file_not_found
from cong.http.api_call import ApiCall
from cong.http.multipart_upload import read_form
from cong.http.openai_routes import Endpoint, openai_endpoint
from cong.http.responses import error_response
from cong.protocol.errors import APIError, invalid_request

SANDBOX_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'"


def _query(call: ApiCall) -> dict[str, str]:
    raw = call.scope.get("query_string", b"").decode("latin-1")
    return {key: values[-1] for key, values in parse_qs(raw).items()}


@openai_endpoint
async def upload_file(call: ApiCall) -> Any:
    principal = await call.authenticate()
    files = call.services.files
    upload = await files.start_upload(principal)
    try:
        form = await read_form(call, upload)
    except BaseException:
        upload.abort()
        raise
    assert form.filename is not None
    info = await files.finish(
        principal,
        upload,
        filename=form.filename,
        purpose=form.fields.get("purpose"),
        content_type=form.content_type,
    )
    return info.openai()


@openai_endpoint
async def list_files(call: ApiCall) -> Any:
    principal = await call.authenticate()
    query = _query(call)
    try:
        limit = int(query.get("limit", "10000"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 10_000:
        raise invalid_request("limit must be an integer from 1 to 10000.", param="limit")
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid_request("order must be 'asc' or 'desc'.", param="order")
    found, has_more = await call.services.files.list(
        principal,
        purpose=query.get("purpose") or None,
        limit=limit,
        after=query.get("after") or None,
        ascending=order == "asc",
    )
    data = [info.openai() for info in found]
    return {
        "object": "list",
        "data": data,
        "first_id": found[0].id if found else "",
        "last_id": found[-1].id if found else "",
        "has_more": has_more,
    }


def _file_id(call: ApiCall) -> tuple[str, str]:
    """``file-…`` or ``file-…/content`` after ``/v1/files/``: (id, rest)."""
    file_id, _, rest = call.path_params["model"].partition("/")
    return file_id, rest


@openai_endpoint
async def _retrieve(call: ApiCall) -> Any:
    file_id, _ = _file_id(call)
    return (await call.services.files.get(await call.authenticate(), file_id)).openai()


@openai_endpoint
async def delete_file(call: ApiCall) -> Any:
    file_id, rest = _file_id(call)
    principal = await call.authenticate()
    if rest:
        raise file_not_found(file_id)
    await call.services.files.delete(principal, file_id)
    return {"id": file_id, "object": "file", "deleted": True}


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the UTF-8 name (RFC 6266)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class Download:
    """A stored file's contents, read from disk off the event loop, chunk by chunk."""

    def __init__(self, info: FileInfo, chunks: Iterator[bytes]) -> None:
        self.info = info
        self.chunks = chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-type", b"application/octet-stream"),
            (b"content-length", b"%d" % self.info.bytes),
            (b"content-disposition", content_disposition(self.info.filename).encode("latin-1")),
            (b"x-content-type-options", b"nosniff"),
            (b"content-security-policy", SANDBOX_CSP.encode()),
            (b"cache-control", b"private, no-store"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        while chunk := await asyncio.to_thread(next, self.chunks, b""):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


async def file_get(call: ApiCall) -> ASGIApp:
    """``GET /v1/files/{id}`` (the object) or ``/v1/files/{id}/content`` (the bytes)."""
    file_id, rest = _file_id(call)
    if rest != "content":
        if rest:
            return error_response(file_not_found(file_id))
        return await _retrieve(call)
    try:
        principal = await call.authenticate()
        info, chunks = await call.services.files.content(principal, file_id)
    except APIError as error:
        return error_response(error)
    return Download(info, chunks)


exact_routes: dict[str, dict[str, Endpoint]] = {
    "/v1/files": {"GET": list_files, "POST": upload_file},
}
prefixed_routes: dict[str, dict[str, Endpoint]] = {
    "/v1/files/": {"GET": file_get, "DELETE": delete_file},
}
