"""Stored Responses: what ``store`` keeps and ``previous_response_id`` continues from.

Policy: a Response is stored when its request says ``store`` (OpenAI's default is true)
and it finished (completed or incomplete; a failed one is not kept). It belongs to the
user of the key that created it: any key of that user reads, continues or deletes it,
nobody else sees it (another user's id answers 404, as an unknown one does). With it is
kept the whole conversation as chat messages (earlier turns, this request's input and
its output), so that continuing costs one read; instructions are not carried over, as
OpenAI does. Deleting removes it for good; responses continued from it keep their own
copy of the conversation.
"""

from __future__ import annotations

from typing import Any

from cong.accounts.principal import Principal
from cong.protocol.errors import APIError, invalid_request, not_found
from cong.storage import responses as queries
from cong.storage.database import Database

MAX_PAGE = 100


def _missing(response_id: str) -> APIError:
    return not_found(f"Response with id '{response_id}' not found.")


class StoredResponses:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def history(self, principal: Principal, response_id: str) -> list[dict[str, Any]]:
        """The chat messages of the conversation up to the named response."""
        async with self.db.session() as session:
            row = await queries.get_response(session, principal.user_id, response_id)
        if row is None:
            raise APIError(
                404,
                f"Previous response with id '{response_id}' not found.",
                type="invalid_request_error",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        return list(row.messages)

    async def save(
        self,
        principal: Principal,
        response: dict[str, Any],
        input_items: list[dict[str, Any]],
        messages: list[dict[str, Any]],
    ) -> None:
        async with self.db.session() as session, session.begin():
            await queries.save_response(session, principal.user_id, response, input_items, messages)

    async def get(self, principal: Principal, response_id: str) -> dict[str, Any]:
        async with self.db.session() as session:
            row = await queries.get_response(session, principal.user_id, response_id)
        if row is None:
            raise _missing(response_id)
        return dict(row.response)

    async def delete(self, principal: Principal, response_id: str) -> dict[str, Any]:
        async with self.db.session() as session, session.begin():
            deleted = await queries.delete_response(session, principal.user_id, response_id)
        if not deleted:
            raise _missing(response_id)
        return {"id": response_id, "object": "response", "deleted": True}

    async def input_items(
        self,
        principal: Principal,
        response_id: str,
        *,
        limit: int = 20,
        order: str = "desc",
        after: str | None = None,
    ) -> dict[str, Any]:
        """One page of the request's input items (``GET …/input_items``)."""
        if not 1 <= limit <= MAX_PAGE:
            raise invalid_request("limit must be between 1 and 100.", param="limit")
        if order not in ("asc", "desc"):
            raise invalid_request("order must be 'asc' or 'desc'.", param="order")
        async with self.db.session() as session:
            row = await queries.get_response(session, principal.user_id, response_id)
        if row is None:
            raise _missing(response_id)
        items = list(row.input_items)
        if order == "desc":
            items.reverse()
        if after is not None:
            ids = [item.get("id") for item in items]
            if after not in ids:
                raise invalid_request(f"No input item with id '{after}'.", param="after")
            items = items[ids.index(after) + 1 :]
        page = items[:limit]
        return {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > limit,
        }
