"""``/api/users`` (admins), ``/api/keys`` (a user manages their own keys, an admin all),
``/api/me`` and ``/api/key/usage`` (any key, about itself)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from cong.accounts.passwords import check_strength
from cong.http.account_models import (
    KeyCreate,
    KeyCreated,
    KeyOut,
    KeyPatch,
    KeyUsageOut,
    MeOut,
    UserCreate,
    UserOut,
    UserPatch,
)
from cong.http.context import services_of
from cong.http.dependencies import Admin, Caller
from cong.money import to_micros
from cong.protocol.errors import invalid_request

users = APIRouter(prefix="/api/users", tags=["users"])
keys = APIRouter(prefix="/api/keys", tags=["keys"])
me = APIRouter(prefix="/api", tags=["me"])
routers = (users, keys, me)


@users.get("", summary="List users with their group and wallet (admin)")
async def list_users(request: Request, _admin: Admin) -> list[UserOut]:
    return [UserOut.of(u) for u in await services_of(request).accounts.list_users()]


@users.post("", status_code=201, summary="Create a user (admin)")
async def create_user(request: Request, body: UserCreate, _admin: Admin) -> UserOut:
    services = services_of(request)
    if body.password is not None:
        check_strength(body.password)  # a refused password creates no user
    user = await services.accounts.create_user(
        body.name,
        body.role,
        group=body.group,
        credit_limit=to_micros(body.credit_limit, param="credit_limit"),
    )
    if body.password is not None:
        await services.sessions.reset_password(str(user.id), body.password)
    return UserOut.of(user)


@users.get("/{ref}", summary="One user by name or id (admin)")
async def get_user(request: Request, ref: str, _admin: Admin) -> UserOut:
    return UserOut.of(await services_of(request).accounts.get_user(ref))


@users.patch("/{ref}", summary="Change a user's name, role, group, credit limit or enabled (admin)")
async def update_user(request: Request, ref: str, body: UserPatch, _admin: Admin) -> UserOut:
    changes: dict[str, Any] = body.changes()
    return UserOut.of(await services_of(request).accounts.update_user(ref, **changes))


@users.delete(
    "/{ref}",
    status_code=204,
    summary="Delete a user with their keys, wallet, conversations, memories and files (admin)",
)
async def delete_user(request: Request, ref: str, _admin: Admin) -> Response:
    services = services_of(request)
    user = await services.accounts.get_user(ref)
    files = await services.files.ids_of(user.id)
    await services.accounts.delete_user(user.id)  # the rows go with the user
    await services.files.drop_contents(files)
    return Response(status_code=204)


def _served(request: Request, models: list[str] | None) -> None:
    """A key limited to a model this gateway does not serve (a typo, most often) would
    answer 404 to every call: refused when it is made."""
    catalog = services_of(request).gateway.catalog
    unknown = [m for m in models or () if m not in catalog.routes and m not in catalog.aliases]
    if unknown:
        raise invalid_request(
            f"This gateway serves no model {', '.join(repr(m[:80]) for m in unknown[:5])}; "
            "a key may be limited to the models and aliases GET /v1/models lists.",
            param="models",
            code="model_not_found",
        )


@keys.get("", summary="List keys, masked: your own, or everyone's for an admin")
async def list_keys(
    request: Request,
    caller: Caller,
    user: Annotated[str | None, Query(description="only this user's keys")] = None,
) -> list[KeyOut]:
    views = await services_of(request).accounts.list_keys(user, actor=caller)
    return [KeyOut.of(k) for k in views]


@keys.post(
    "",
    status_code=201,
    summary="Create a key; the response is the only time the key is shown",
    description="A non-admin creates keys for themselves only, and never with more than "
    "the calling key and their group allow (models, expiry, IP ranges, rate limits): "
    "such requests get 403.",
)
async def create_key(request: Request, body: KeyCreate, caller: Caller) -> KeyCreated:
    _served(request, body.models)
    owner = body.user or caller.user_name
    new, view = await services_of(request).accounts.create_key(
        owner, settings=body.settings(), actor=caller
    )
    return KeyCreated(**KeyOut.of(view).model_dump(), key=new.token)


@keys.get("/{key_id}", summary="One key, masked (yours; any for an admin)")
async def get_key(request: Request, key_id: str, caller: Caller) -> KeyOut:
    return KeyOut.of(await services_of(request).accounts.get_key(key_id, actor=caller))


@keys.patch(
    "/{key_id}",
    summary="Change a key's name, models, expiry, caps, IP allow-list, limits or enabled",
)
async def update_key(request: Request, key_id: str, body: KeyPatch, caller: Caller) -> KeyOut:
    _served(request, body.models)
    view = await services_of(request).accounts.update_key(key_id, body.settings(), actor=caller)
    return KeyOut.of(view)


@keys.post("/{key_id}/revoke", summary="Revoke a key for good (it stays in listings)")
async def revoke_key(request: Request, key_id: str, caller: Caller) -> KeyOut:
    accounts = services_of(request).accounts
    await accounts.revoke_key(key_id, actor=caller)
    return KeyOut.of(await accounts.get_key(key_id, actor=caller))


@keys.delete("/{key_id}", status_code=204, summary="Delete a key")
async def delete_key(request: Request, key_id: str, caller: Caller) -> Response:
    await services_of(request).accounts.delete_key(key_id, actor=caller)
    return Response(status_code=204)


@me.get("/me", summary="The calling user, their wallet, and the key in use")
async def whoami(request: Request, caller: Caller) -> MeOut:
    accounts = services_of(request).accounts
    user = await accounts.get_user(caller.user_id)
    key = await accounts.get_key(caller.key_id, actor=caller) if caller.key_id else None
    return MeOut(user=UserOut.of(user), key=KeyOut.of(key) if key else None)


@me.get(
    "/key/usage",
    summary="The calling key's own usage, spend, caps and what it may still spend",
    description="Needs only the key itself as the Bearer token.",
)
async def key_usage(
    request: Request,
    caller: Caller,
    since: Annotated[date | None, Query(description="first day to count (YYYY-MM-DD)")] = None,
) -> KeyUsageOut:
    if not caller.key_id:
        raise invalid_request(
            "This endpoint describes the calling API key; this session has none.",
            code="no_api_key",
        )
    usage = await services_of(request).reports.key_usage(
        caller, since.isoformat() if since else None
    )
    return KeyUsageOut.of(usage)
