"""``/v1/files``: OpenAI's Files API (upload, list, retrieve, content, delete), served
by ``http.front`` like the other ``/v1`` endpoints. Contents are sent as downloads that a
browser will neither render nor sniff. ``/api/files`` is the same API, the same code, for
the web pages: it also takes the session cookie (with its CSRF token on changes), as
``/api/chat/completions`` does."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.types import ASGIApp, Receive, Scope, Send

from cong.accounts.principal import Principal
from cong.files.service import FileInfo, file_not_found
from cong.http.api_call import ApiCall
from cong.http.multipart_upload import read_form
from cong.http.openai_routes import Endpoint, openai_endpoint
from cong.http.responses import error_response
from cong.http.web_caller import web_caller
from cong.protocol.errors import APIError, invalid_request

SANDBOX_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'"
Who = Callable[[ApiCall], Awaitable[Principal]]


def _query(call: ApiCall) -> dict[str, str]:
    raw = call.scope.get("query_string", b"").decode("latin-1")
    return {key: values[-1] for key, values in parse_qs(raw).items()}


async def _key_caller(call: ApiCall) -> Principal:
    return await call.authenticate()


async def upload_file(call: ApiCall, who: Who) -> Any:
    principal = await who(call)
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


async def list_files(call: ApiCall, who: Who) -> Any:
    principal = await who(call)
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


async def retrieve_file(call: ApiCall, who: Who) -> Any:
    file_id, _ = _file_id(call)
    return (await call.services.files.get(await who(call), file_id)).openai()


async def delete_file(call: ApiCall, who: Who) -> Any:
    file_id, rest = _file_id(call)
    principal = await who(call)
    if rest:
        raise file_not_found(file_id)
    await call.services.files.delete(principal, file_id)
    return {"id": file_id, "object": "file", "deleted": True}


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the UTF-8 name (RFC 6266)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def download_headers(info: FileInfo) -> list[tuple[str, str]]:
    return [
        ("content-type", "application/octet-stream"),
        ("content-length", str(info.bytes)),
        ("content-disposition", content_disposition(info.filename)),
        ("x-content-type-options", "nosniff"),
        ("content-security-policy", SANDBOX_CSP),
        ("cache-control", "private, no-store"),
    ]


class Download:
    """A stored file's contents, read from disk off the event loop, chunk by chunk."""

    def __init__(self, info: FileInfo, chunks: Iterator[bytes]) -> None:
        self.info = info
        self.chunks = chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k.encode(), v.encode("latin-1")) for k, v in download_headers(self.info)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        while chunk := await asyncio.to_thread(next, self.chunks, b""):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


def _endpoints(who: Who) -> tuple[dict[str, Endpoint], dict[str, Endpoint]]:
    """The endpoints of the collection and of one file, with ``who`` authenticating."""

    def bound(handler: Callable[[ApiCall, Who], Awaitable[Any]]) -> Endpoint:
        async def with_caller(call: ApiCall) -> Any:
            return await handler(call, who)

        with_caller.__name__ = handler.__name__
        return openai_endpoint(with_caller)

    retrieve = bound(retrieve_file)

    async def file_get(call: ApiCall) -> ASGIApp:
        """``GET …/files/{id}`` (the object) or ``…/files/{id}/content`` (the bytes)."""
        file_id, rest = _file_id(call)
        if rest != "content":
            if rest:
                return error_response(file_not_found(file_id))
            return await retrieve(call)
        try:
            principal = await who(call)
            info, chunks = await call.services.files.content(principal, file_id)
        except APIError as error:
            return error_response(error)
        return Download(info, chunks)

    collection = {"GET": bound(list_files), "POST": bound(upload_file)}
    return collection, {"GET": file_get, "DELETE": bound(delete_file)}


_v1_files, _v1_file = _endpoints(_key_caller)
_web_files, _web_file = _endpoints(web_caller)

exact_routes: dict[str, dict[str, Endpoint]] = {"/v1/files": _v1_files, "/api/files": _web_files}
prefixed_routes: dict[str, dict[str, Endpoint]] = {
    "/v1/files/": _v1_file,
    "/api/files/": _web_file,
}
