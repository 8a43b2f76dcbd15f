"""``/api/session`` (sign in with a password or a personal API key, sign out, register,
the CSRF token), ``/api/me/password``, ``/api/me/language``, an admin's password reset
and the registration setting. The session token travels only in its ``HttpOnly`` cookie."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cong.accounts.sessions import Client, SessionView, SignedIn
from cong.http.client_address import (
    SESSION_COOKIE,
    clear_session_cookie,
    client_ip,
    set_session_cookie,
)
from cong.http.context import services_of
from cong.http.dependencies import Admin, Caller, has_key_header
from cong.protocol.errors import APIError

session = APIRouter(prefix="/api/session", tags=["session"])
me = APIRouter(prefix="/api/me", tags=["me"])
admin = APIRouter(prefix="/api", tags=["users"])
routers = (session, me, admin)

Language = Literal["vi", "en"] | None


class SignIn(BaseModel):
    """Either ``username`` + ``password``, or ``api_key`` (a personal key)."""

    model_config = ConfigDict(extra="forbid")

    username: str | None = Field(None, max_length=64)
    password: str | None = Field(None, max_length=1024)
    api_key: str | None = Field(None, max_length=256)

    @model_validator(mode="after")
    def _one_way(self) -> SignIn:
        if self.api_key is None and (self.username is None or self.password is None):
            raise ValueError("give username and password, or api_key")
        return self


class Register(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(max_length=1024)
    code: str | None = Field(None, max_length=64, description="needed in 'code' mode")


class SessionUser(BaseModel):
    id: int
    name: str
    role: str
    group: str


class SessionOut(BaseModel):
    signed_in: bool
    registration: Literal["off", "open", "code"] = Field(
        description="whether the sign-in page may offer self-registration"
    )
    via: Literal["password", "key"] | None = None
    user: SessionUser | None = None
    key_id: str | None = Field(None, description="the key a key sign-in used")
    language: Language = None
    currency: str = Field("USD", description="the currency wallets and prices are in")
    has_password: bool | None = None
    expires_at: datetime | None = None
    csrf_token: str | None = Field(
        None, description="send as X-CSRF-Token on every state-changing /api request"
    )


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str | None = Field(None, max_length=1024)
    new_password: str = Field(max_length=1024)


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(
        max_length=1024, description="the new password; null removes it (key sign-in only)"
    )


class LanguageIO(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: Language = Field(description="null: follow the browser")


class RegistrationIO(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["off", "open", "code"]
    group: str | None = Field(None, description="the group new users join (default group)")


def _client(request: Request) -> Client:
    settings = services_of(request).settings.web
    agent = request.headers.get("user-agent", "")
    return Client(ip=client_ip(request, settings), user_agent=agent)


async def _out(request: Request, web: SessionView | None, token: str | None) -> SessionOut:
    services = services_of(request)
    mode = (await services.registration.policy()).mode
    currency = services.settings.billing.currency
    if web is None or token is None:
        return SessionOut(signed_in=False, registration=mode, currency=currency)
    p = web.principal
    return SessionOut(
        signed_in=True,
        registration=mode,
        via=web.via,
        user=SessionUser(id=p.user_id, name=p.user_name, role=p.role, group=p.group),
        key_id=p.key_id or None,
        language=web.language,
        currency=currency,
        has_password=web.has_password,
        expires_at=web.expires_at,
        csrf_token=services.sessions.csrf_token(token),
    )


async def _signed_in(request: Request, response: Response, signed: SignedIn) -> SessionOut:
    set_session_cookie(response, request, services_of(request).settings.web, signed.token)
    return await _out(request, signed.session, signed.token)


@session.get(
    "",
    summary="The current web session and its CSRF token (signed_in: false without one)",
)
async def get_session(request: Request, response: Response) -> SessionOut:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return await _out(request, None, None)
    try:
        web = await services_of(request).sessions.current(token, _client(request).ip)
    except APIError:
        clear_session_cookie(response)
        return await _out(request, None, None)
    return await _out(request, web, token)


@session.post(
    "",
    summary="Sign in with username + password or a personal API key; sets the cookie",
    description="Attempts are rate limited per account name and per client address "
    "(429 with retry-after). The session token is only ever set as an HttpOnly cookie.",
)
async def sign_in(request: Request, response: Response, body: SignIn) -> SessionOut:
    sessions = services_of(request).sessions
    client = _client(request)
    if body.api_key is not None:
        signed = await sessions.sign_in_key(body.api_key, client)
    else:
        assert body.username is not None and body.password is not None
        signed = await sessions.sign_in_password(body.username, body.password, client)
    return await _signed_in(request, response, signed)


@session.delete("", status_code=204, summary="Sign out (ends the session, clears the cookie)")
async def sign_out(request: Request, _caller: Caller) -> Response:
    response = Response(status_code=204)
    token = request.cookies.get(SESSION_COOKIE)
    if token and not has_key_header(request):
        await services_of(request).sessions.sign_out(token)
    clear_session_cookie(response)
    return response


@session.post(
    "/register",
    status_code=201,
    summary="Create your own account when an admin allows it; signs you in",
)
async def register(request: Request, response: Response, body: Register) -> SessionOut:
    services = services_of(request)
    client = _client(request)
    await services.sessions.limit_attempt(client, None)
    await services.registration.register(body.username, body.password, body.code)
    signed = await services.sessions.sign_in_password(body.username, body.password, client)
    return await _signed_in(request, response, signed)


@me.put(
    "/password",
    status_code=204,
    summary="Change your password (your other sessions end)",
    description="current_password is needed when a password is set.",
)
async def change_password(request: Request, body: PasswordChange, caller: Caller) -> Response:
    keep = None if has_key_header(request) else request.cookies.get(SESSION_COOKIE)
    await services_of(request).sessions.change_password(
        caller, body.current_password, body.new_password, keep
    )
    return Response(status_code=204)


@me.get("/language", summary="Your language for the pages (null: the browser's)")
async def get_language(request: Request, caller: Caller) -> LanguageIO:
    language = await services_of(request).sessions.language(caller.user_id)
    return LanguageIO(language=language)


@me.put("/language", summary="Set your language for the pages: vi, en or null")
async def set_language(request: Request, body: LanguageIO, caller: Caller) -> LanguageIO:
    await services_of(request).sessions.set_language(caller.user_id, body.language)
    return body


@admin.put(
    "/users/{ref}/password",
    status_code=204,
    summary="Set or remove a user's password (admin); their sessions end",
)
async def reset_password(request: Request, ref: str, body: PasswordReset, _a: Admin) -> Response:
    await services_of(request).sessions.reset_password(ref, body.password)
    return Response(status_code=204)


@admin.get("/settings/registration", summary="The self-registration setting (admin)")
async def get_registration(request: Request, _a: Admin) -> RegistrationIO:
    policy = await services_of(request).registration.policy()
    return RegistrationIO(mode=policy.mode, group=policy.group)


@admin.put(
    "/settings/registration",
    summary="Self-registration: off (default), open, or code (a redemption code is needed)",
)
async def set_registration(request: Request, body: RegistrationIO, _a: Admin) -> RegistrationIO:
    policy = await services_of(request).registration.set_policy(body.mode, body.group)
    return RegistrationIO(mode=policy.mode, group=policy.group)
