"""Files in chat: each OpenAI ``file`` content part (``file_id`` of the caller's own
file, or inline ``file_data``) becomes what the model can read — the extracted text,
named and structured, as a text part (a long file: its structure and the chunks that
matter for the latest user message, :mod:`.long_files`); an image as an ``image_url``
part. The model is billed for that text as prompt tokens like any other."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from cong.accounts.principal import Principal
from cong.billing.estimates import text_tokens
from cong.files.extraction import Extracted
from cong.files.long_files import Budget, Question
from cong.files.service import Files, clean_filename, too_large
from cong.protocol.errors import APIError, invalid_request

Body = dict[str, Any]
IMAGE_REFUSED = "image_input_not_supported"


@dataclass(slots=True)
class Expanded:
    body: Body
    images: list[str] = field(default_factory=list)  # names of files sent as images
    names: list[str] = field(default_factory=list)  # names of every file in the request


def has_file_parts(body: Body) -> bool:
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and any(
            isinstance(part, dict) and part.get("type") == "file" for part in content
        ):
            return True
    return False


def _inline(spec: dict[str, Any], limit: int, where: str) -> tuple[str, bytes]:
    data = spec.get("file_data")
    name = spec.get("filename") or "file"
    if data is None:
        raise invalid_request(
            f"{where} needs a 'file_id' (a string: an uploaded file's id) or 'file_data' "
            "(the file's contents, base64).",
            param=where,
        )
    if not isinstance(data, str) or not isinstance(name, str):
        raise invalid_request(f"{where}: 'file_data' must be a base64 string.", param=where)
    name = clean_filename(name)
    payload = data.partition(",")[2] if data.startswith("data:") else data
    if len(payload) * 3 // 4 > limit:
        raise too_large(limit)
    try:
        return name, base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_request(
            f"{where}: the file_data of {name!r} is not valid base64.", param=where
        ) from None


def _image_part(extracted: Extracted) -> dict[str, Any]:
    encoded = base64.b64encode(extracted.image or b"").decode()
    url = f"data:{extracted.media_type};base64,{encoded}"
    return {"type": "image_url", "image_url": {"url": url}}


def latest_user_text(messages: Any) -> str:
    """The text of the last user message (its text parts), what long files are searched
    with."""
    for message in reversed(messages if isinstance(messages, list) else []):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "\n".join(
                str(p.get("text") or "")
                for p in content
                if isinstance(p, dict) and p.get("type") == "text"
            )
        return ""
    return ""


class _Reader:
    """Reads the file parts of one request."""

    def __init__(self, files: Files, principal: Principal, body: Body, context: int | None):
        self.files = files
        self.principal = principal
        self.budget = Budget.of(files.settings, context)
        self.question = Question(latest_user_text(body.get("messages")), files.long.embedder)

    async def part(self, spec: dict[str, Any], where: str, expanded: Expanded) -> dict[str, Any]:
        long = self.files.long
        file_id: str | None = None
        if isinstance(spec.get("file_id"), str):
            info = await self.files.get(self.principal, spec["file_id"])
            name, file_id = info.filename, info.id
            found = await long.stored(info.id)
            if found is not None:
                expanded.names.append(name)
                text = await long.excerpt(name, found, self.question, self.budget.retrieved)
                return {"type": "text", "text": text}
            data = await self.files.read_blob(info)
        else:
            name, data = _inline(spec, self.files.settings.max_file_bytes, where)
        expanded.names.append(name)
        extracted = await self.files.extractor.extract(name, data)
        if extracted.image is not None:
            expanded.images.append(name)
            return _image_part(extracted)
        if text_tokens(extracted.text) <= self.budget.whole:
            return {"type": "text", "text": f'<file name="{name}">\n{extracted.text}\n</file>'}
        found = await long.index(file_id, name, extracted.text)
        text = await long.excerpt(name, found, self.question, self.budget.retrieved)
        return {"type": "text", "text": text}


async def expand_file_parts(
    files: Files,
    principal: Principal,
    body: Body,
    *,
    context: int | None = None,
    replayed: int = 0,
) -> Expanded:
    """``body`` with every ``file`` part replaced (the same object when it has none).
    Another user's ``file_id`` is 404; an unreadable file is 400 naming it. ``context``:
    the model's context length when known (long files get less room in a small one).
    In the first ``replayed`` messages (a stored conversation's earlier turns) a file
    deleted since is replaced by a note saying so: the conversation goes on."""
    if not has_file_parts(body):
        return Expanded(body)
    expanded = Expanded(dict(body))
    reader = _Reader(files, principal, body, context)
    messages = []
    for m, message in enumerate(body["messages"]):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            messages.append(message)
            continue
        parts = []
        for p, part in enumerate(content):
            if not (isinstance(part, dict) and part.get("type") == "file"):
                parts.append(part)
                continue
            where = f"messages[{m}].content[{p}].file"
            spec = part.get("file")
            if not isinstance(spec, dict):
                raise invalid_request(f"{where} must be an object.", param=where)
            try:
                parts.append(await reader.part(spec, where, expanded))
            except APIError as error:
                if m >= replayed or error.status != 404:
                    raise
                parts.append({"type": "text", "text": _deleted_note(spec)})
        messages.append({**message, "content": parts})
    expanded.body["messages"] = messages
    return expanded


def _deleted_note(spec: dict[str, Any]) -> str:
    name = spec.get("filename") or spec.get("file_id") or "a file"
    return f"[{str(name)[:200]} was attached here and has since been deleted]"


def name_the_images(error: APIError, expanded: Expanded) -> APIError:
    """A text-only model's refusal of images, naming the files that were images."""
    if error.code != IMAGE_REFUSED or not expanded.images:
        return error
    names = ", ".join(repr(name) for name in expanded.images)
    return invalid_request(
        f"{error.message} The file(s) {names} are images; this model reads text only.",
        param="messages",
        code=IMAGE_REFUSED,
    )
