"""Files in chat: each OpenAI ``file`` content part (``file_id`` of the caller's own
file, or inline ``file_data``) becomes what the model can read — the extracted text,
named and structured, as a text part; an image as an ``image_url`` part. The model is
billed for that text as prompt tokens like any other."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from cong.accounts.principal import Principal
from cong.files.extraction import Extracted
from cong.files.service import Files, clean_filename, too_large
from cong.protocol.errors import APIError, invalid_request

Body = dict[str, Any]
IMAGE_REFUSED = "image_input_not_supported"


@dataclass(slots=True)
class Expanded:
    body: Body
    images: list[str] = field(default_factory=list)  # names of files sent as images


def _has_file_parts(body: Body) -> bool:
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


def _part(extracted: Extracted) -> dict[str, Any]:
    if extracted.image is not None:
        encoded = base64.b64encode(extracted.image).decode()
        url = f"data:{extracted.media_type};base64,{encoded}"
        return {"type": "image_url", "image_url": {"url": url}}
    text = f'<file name="{extracted.name}">\n{extracted.text}\n</file>'
    return {"type": "text", "text": text}


async def expand_file_parts(files: Files, principal: Principal, body: Body) -> Expanded:
    """``body`` with every ``file`` part replaced (the same object when it has none).
    Another user's ``file_id`` is 404; an unreadable file is 400 naming it."""
    if not _has_file_parts(body):
        return Expanded(body)
    expanded = Expanded(dict(body))
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
            if isinstance(spec.get("file_id"), str):
                info, data = await files.read(principal, spec["file_id"])
                name = info.filename
            else:
                name, data = _inline(spec, files.settings.max_file_bytes, where)
            extracted = await files.extractor.extract(name, data)
            if extracted.image is not None:
                expanded.images.append(name)
            parts.append(_part(extracted))
        messages.append({**message, "content": parts})
    expanded.body["messages"] = messages
    return expanded


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
