"""One request to the OpenAI endpoints, read straight from the ASGI scope: the headers
it needs, the client address, the request id and the body. (The management API uses
Starlette's ``Request``; this is the lighter object for the hot path.)"""

from __future__ import annotations

from starlette.types import Receive, Scope

from cong.accounts.principal import Principal
from cong.http.context import Services, token_from_headers
from cong.http.middleware import BodyTooLarge
from cong.protocol.errors import body_too_large


class ClientGone(Exception):
    """The client disconnected before its request body arrived: nobody to answer."""


class ApiCall:
    __slots__ = ("path_params", "receive", "scope", "services")

    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        services: Services,
        path_params: dict[str, str] | None = None,
    ) -> None:
        self.scope = scope
        self.receive = receive
        self.services = services
        self.path_params = path_params or {}

    def header(self, name: str) -> str | None:
        """The first value of a header (``name`` in lower case)."""
        key = name.encode("latin-1")
        for header, value in self.scope["headers"]:
            if header == key:
                decoded: str = value.decode("latin-1")
                return decoded
        return None

    @property
    def request_id(self) -> str:
        value: str = self.scope["state"]["request_id"]
        return value

    async def authenticate(self) -> Principal:
        client = self.scope.get("client")
        host = client[0] if client else None
        return await self.services.accounts.authenticate(token_from_headers(self.header), host)

    async def body(self) -> bytes:
        """The whole body (413 past the size limit; like OpenAI, read as JSON whatever
        the Content-Type says)."""
        parts: list[bytes] = []
        more = True
        while more:
            try:
                message = await self.receive()
            except BodyTooLarge:
                raise body_too_large(self.services.settings.max_body_bytes) from None
            if message["type"] == "http.disconnect":
                raise ClientGone
            parts.append(message.get("body", b""))
            more = message.get("more_body", False)
        return parts[0] if len(parts) == 1 else b"".join(parts)
