"""Chat with memory: ``/v1/chat/completions`` (any OpenAI client, a key) and
``/api/chat/completions`` (the web chat: the session cookie and its CSRF token, or a
key). Both run the memory step before the gateway and the store step after it
(``memory/chat_turns.py``); in ``off`` mode only the conversation id field is removed.
File parts are expanded after the memory step (stored turns keep the client's parts),
and result files are offered and stored around the gateway call (``files/chat_files.py``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp

from cong.accounts.principal import Principal
from cong.files.chat_parts import name_the_images
from cong.gateway.operations import CHAT
from cong.http.api_call import ApiCall
from cong.http.openai_routes import Endpoint
from cong.http.openai_routes import _render as render
from cong.http.responses import error_response
from cong.http.web_caller import web_principal
from cong.memory.chat_turns import HEADER
from cong.protocol.errors import APIError
from cong.protocol.validation import parse_json_object


def _client(call: ApiCall, web: bool) -> str:
    if web:
        return "web"
    agent = call.header("user-agent") or ""
    return agent.split(" ")[0][:64] or "api"


async def _chat(call: ApiCall, principal: Principal, web: bool) -> ASGIApp:
    wire = parse_json_object(await call.body())
    # The client's own messages already too long: refused before the memory step
    # (which embeds the question and stores the turn) does any work for them.
    await call.services.gateway.refuse_unfittable(CHAT, wire, principal)
    services = call.services
    memory = services.chat_memory
    turn = None
    if not memory.is_off(principal, wire, web=web):
        turn = await memory.prepare(
            principal,
            wire,
            call.header(HEADER),
            call.request_id,
            client=_client(call, web),
            web=web,
        )
    replayed = turn.replayed if turn is not None else 0
    files = await services.file_chats.prepare(principal, wire, web=web, replayed=replayed)
    gateway = services.gateway
    # Bounded above unless the memory step or a file added to what the client sent.
    bounded = turn is None and files.body is wire
    request = await gateway.read(
        CHAT, files.body, principal, call.request_id, wire=wire, bounded=bounded
    )
    try:
        result = await gateway.serve(request)
    except APIError as error:
        raise name_the_images(error, files.expanded) from None
    result = await files.finish(result, call.request_id)
    if turn is not None:
        result = await memory.finish(turn, result)
    return render(call, request, result)


def chat_endpoint(who: Callable[[ApiCall], Awaitable[tuple[Principal, bool]]]) -> Endpoint:
    async def endpoint(call: ApiCall) -> ASGIApp:
        try:
            principal, web = await who(call)
            return await _chat(call, principal, web)
        except APIError as error:
            return error_response(error)

    return endpoint


async def _key_principal(call: ApiCall) -> tuple[Principal, bool]:
    return await call.authenticate(), False


chat_completions = chat_endpoint(_key_principal)
web_chat_completions = chat_endpoint(web_principal)


exact_routes: dict[str, dict[str, Endpoint]] = {
    "/v1/chat/completions": {"POST": chat_completions},
    "/api/chat/completions": {"POST": web_chat_completions},
}
