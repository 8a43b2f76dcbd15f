"""A ``multipart/form-data`` upload read as it arrives: the file part is written
straight to its :class:`~cong.files.service.Upload` (so the size limit holds while
reading), the small text fields are kept. Built on python-multipart's streaming parser."""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header

from cong.files.service import Upload
from cong.http.api_call import ApiCall, ClientGone
from cong.http.middleware import BodyTooLarge
from cong.protocol.errors import body_too_large, invalid_request

MAX_FIELDS_BYTES = 64 * 1024  # all text fields together


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    content_type: str = "application/octet-stream"


def _boundary(call: ApiCall) -> bytes:
    content_type, options = parse_options_header(call.header("content-type") or "")
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise invalid_request(
            "Expected a multipart/form-data body with a 'file' and a 'purpose'.",
            code="invalid_content_type",
        )
    return boundary


class _Reader:
    """The parser's callbacks: headers of each part, then its data."""

    def __init__(self, upload: Upload, form: Form) -> None:
        self.upload = upload
        self.form = form
        self.header_name = b""
        self.header_value = b""
        self.headers: dict[bytes, bytes] = {}
        self.name = ""
        self.is_file = False
        self.value = bytearray()
        self.field_bytes = 0

    def on_part_begin(self) -> None:
        self.headers = {}
        self.value = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.header_name.lower()] = self.header_value
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        self.is_file = self.name == "file" and filename is not None
        if self.is_file:
            if self.form.filename is not None:
                raise invalid_request("Send one file per upload.", param="file")
            assert filename is not None
            self.form.filename = filename.decode("utf-8", "replace")
            declared = self.headers.get(b"content-type", b"").decode("latin-1").strip()
            self.form.content_type = declared or "application/octet-stream"

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.is_file:
            self.upload.write(data[start:end])
            return
        self.field_bytes += end - start
        if self.field_bytes > MAX_FIELDS_BYTES:
            raise invalid_request("The form's text fields are too large.")
        self.value += data[start:end]

    def on_part_end(self) -> None:
        if not self.is_file and self.name:
            self.form.fields[self.name] = self.value.decode("utf-8", "replace")


async def read_form(call: ApiCall, upload: Upload) -> Form:
    """Parse the whole body into ``upload`` and the returned form (400 for a body that is
    not multipart or has no file, 413 past the limits)."""
    boundary = _boundary(call)
    form = Form()
    reader = _Reader(upload, form)
    callbacks = {
        name: getattr(reader, name)
        for name in (
            "on_part_begin",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
            "on_part_data",
            "on_part_end",
        )
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    more = True
    while more:
        try:
            message = await call.receive()
        except BodyTooLarge:
            raise body_too_large(call.services.settings.max_body_bytes) from None
        if message["type"] == "http.disconnect":
            raise ClientGone
        try:
            parser.write(message.get("body", b""))
        except MultipartParseError:
            raise invalid_request("The multipart body is malformed.") from None
        more = message.get("more_body", False)
    parser.finalize()
    if form.filename is None:
        raise invalid_request("The form has no 'file' part.", param="file")
    return form
