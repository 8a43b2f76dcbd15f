"""What the HTTP layer holds for one running app: the services it calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

from cong.accounts.groups import Groups
from cong.accounts.principal import Principal
from cong.accounts.registration import Registration
from cong.accounts.service import Accounts
from cong.accounts.sessions import Sessions
from cong.billing.codes import Codes
from cong.billing.price_book import PriceBook
from cong.billing.reports import Reports
from cong.billing.usage_series import UsageSeries
from cong.billing.wallets import Wallets
from cong.catalogue.service import ModelCatalogue
from cong.channels.catalog_loader import CatalogLoader
from cong.channels.service import Channels
from cong.conversations.responses_api import ResponsesAPI
from cong.files.chat_files import FileChats
from cong.files.service import Files
from cong.gateway.service import Gateway
from cong.gateway.status import StatusService
from cong.http.metrics import Metrics
from cong.limits.base import RateLimiter
from cong.memory.chat_turns import ChatMemory
from cong.memory.conversations import Conversations
from cong.memory.mode_settings import MemoryModes
from cong.protocol.errors import missing_api_key
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
    sessions: Sessions
    registration: Registration
    catalogue: ModelCatalogue
    usage_series: UsageSeries
    metrics: Metrics
    responses: ResponsesAPI
    files: Files
    file_chats: FileChats
    chat_memory: ChatMemory
    conversations: Conversations
    memory_modes: MemoryModes


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def token_from_headers(header: Callable[[str], str | None]) -> str:
    """The API key from ``Authorization: Bearer``, ``api-key`` (Azure style) or
    ``x-api-key`` (Anthropic style); ``header`` reads one header by lower-case name."""
    authorization = header("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token:
            return token
    api_key = header("api-key") or header("x-api-key")
    if api_key:
        return api_key.strip()
    raise missing_api_key()


def bearer_token(request: Request) -> str:
    return token_from_headers(request.headers.get)


async def authenticate(request: Request) -> Principal:
    client = request.client.host if request.client else None
    return await services_of(request).accounts.authenticate(bearer_token(request), client)
