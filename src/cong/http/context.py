"""What the HTTP layer holds for one running app: the services it calls."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from cong.http.middleware import BodyTooLarge
from cong.protocol.errors import body_too_large, missing_api_key
from cong.services.accounts import Accounts, Principal
from cong.services.catalog_loader import CatalogLoader
from cong.services.channels import Channels
from cong.services.codes import Codes
from cong.services.gateway import Gateway
from cong.services.groups import Groups
from cong.services.price_book import PriceBook
from cong.services.rate_limits import RateLimiter
from cong.services.reports import Reports
from cong.services.status import StatusService
from cong.services.wallets import Wallets
from cong.settings import Settings


@dataclass
class Services:
    settings: Settings
    accounts: Accounts
    gateway: Gateway
    channels: Channels
    loader: CatalogLoader
    wallets: Wallets
    limiter: RateLimiter
    status: StatusService
    groups: Groups
    codes: Codes
    prices: PriceBook
    reports: Reports


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token:
            return token
    api_key = request.headers.get("api-key") or request.headers.get("x-api-key")
    if api_key:
        return api_key.strip()
    raise missing_api_key()


async def authenticate(request: Request) -> Principal:
    client = request.client.host if request.client else None
    return await services_of(request).accounts.authenticate(bearer_token(request), client)


def request_id(request: Request) -> str:
    value: str = request.scope["state"]["request_id"]
    return value


async def read_body(request: Request) -> bytes:
    try:
        body = await request.body()
    except BodyTooLarge:
        raise body_too_large(services_of(request).settings.max_body_bytes) from None
    # Like OpenAI, the body is read as JSON whatever the Content-Type says (curl users
    # often forget the header); a body that is not JSON gets a clear 400.
    return body
