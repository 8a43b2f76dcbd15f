"""Files around one chat request: before routing, the ``file`` parts are expanded
(:mod:`.chat_parts`, sized for the model's context) and result files are offered
(:mod:`.result_offer`); after the answer, the files the model made are stored and the
answer carries their links (:mod:`.result_turn`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cong.accounts.principal import Principal
from cong.catalogue.model_info import ModelInfo
from cong.catalogue.service import ModelCatalogue
from cong.files.chat_parts import Expanded, expand_file_parts, has_file_parts
from cong.files.result_offer import Offer, offer, wanted
from cong.files.result_turn import ResultTurn
from cong.files.results import ResultFiles
from cong.files.service import Files
from cong.gateway.operations import CHAT
from cong.gateway.request import GatewayRequest
from cong.gateway.service import Gateway, Result

WEB_DOWNLOAD = "/api/files/{id}/content"  # same origin, the session cookie is enough
API_DOWNLOAD = "/v1/files/{id}/content"


@dataclass
class FileChat:
    """One request's files: the body to send, and what to do with the answer."""

    expanded: Expanded
    offer: Offer | None
    principal: Principal
    chats: FileChats
    web: bool

    @property
    def body(self) -> dict[str, Any]:
        return self.offer.body if self.offer is not None else self.expanded.body

    async def finish(self, result: Result, request_id: str) -> Result:
        """The answer with the result files stored and linked (as it is without an
        offer)."""
        if self.offer is None:
            return result
        chats = self.chats
        template = WEB_DOWNLOAD if self.web else chats.public_url + API_DOWNLOAD
        saver = ResultFiles(chats.files, self.principal, lambda i: template.format(id=i))

        async def serve(body: dict[str, Any], round_id: str) -> Result:
            request = GatewayRequest.read(CHAT, body, self.principal, round_id)
            return await chats.gateway.serve(request)

        return await ResultTurn(self.offer, saver, serve, request_id).finish(result)


class FileChats:
    def __init__(
        self, files: Files, catalogue: ModelCatalogue, gateway: Gateway, public_url: str
    ) -> None:
        self.files = files
        self.catalogue = catalogue
        self.gateway = gateway
        self.public_url = public_url.rstrip("/")

    async def _info(self, principal: Principal, body: dict[str, Any]) -> ModelInfo | None:
        model = body.get("model")
        return await self.catalogue.info_of(principal, model) if isinstance(model, str) else None

    async def expand(self, principal: Principal, body: dict[str, Any]) -> Expanded:
        """Only the ``file`` parts (the endpoints that take no result files)."""
        if not has_file_parts(body):
            return Expanded(body)
        info = await self._info(principal, body)
        context = info.context_length if info is not None else None
        return await expand_file_parts(self.files, principal, body, context=context)

    async def prepare(
        self, principal: Principal, body: dict[str, Any], *, web: bool, replayed: int = 0
    ) -> FileChat:
        """``body`` with its file parts expanded and, when wanted, the result-file tool
        offered. ``replayed``: how many leading messages are stored turns (a file they
        name that was deleted since becomes a note, not a 404)."""
        has_files = has_file_parts(body)
        wants = self.files.settings.result_files and wanted(body, has_files=has_files)
        info = await self._info(principal, body) if has_files or wants else None
        context = info.context_length if info is not None else None
        expanded = (
            await expand_file_parts(self.files, principal, body, context=context, replayed=replayed)
            if has_files
            else Expanded(body)
        )
        offered = offer(expanded.body, info.capabilities) if wants and info is not None else None
        return FileChat(expanded, offered, principal, self, web)
