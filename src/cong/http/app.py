"""The ASGI application: routes, middleware, error handlers and the services' lifetime."""

from __future__ import annotations

import functools
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from cong import __version__
from cong.accounts.credentials import server_secret
from cong.accounts.groups import Groups
from cong.accounts.passwords import Passwords
from cong.accounts.registration import Registration
from cong.accounts.service import Accounts
from cong.accounts.sessions import Sessions
from cong.billing.codes import Codes
from cong.billing.price_book import PriceBook
from cong.billing.pricing import Prices
from cong.billing.reports import Reports
from cong.billing.sweeper import Sweeper, ensure_embedded_prices
from cong.billing.usage_series import UsageSeries
from cong.billing.wallets import Wallets
from cong.catalogue.service import ModelCatalogue
from cong.channels.catalog_loader import CatalogLoader
from cong.channels.health import ChannelHealth
from cong.channels.routing import Router
from cong.channels.secrets_box import SecretBox
from cong.channels.service import Channels
from cong.conversations.responses import StoredResponses
from cong.conversations.responses_api import ResponsesAPI
from cong.files.blob_stores import open_blob_store
from cong.files.chat_files import FileChats
from cong.files.service import Files
from cong.gateway.metered_stream import MeteredStreams
from cong.gateway.metering import Metering
from cong.gateway.service import Gateway
from cong.gateway.status import StatusService
from cong.http import (
    account_routes,
    admin_routes,
    api_docs,
    billing_routes,
    conversation_routes,
    file_quota_routes,
    file_routes,
    memory_chat,
    memory_routes,
    messages_routes,
    model_routes,
    openai_routes,
    responses_routes,
    session_routes,
    system_routes,
    usage_routes,
)
from cong.http.api_gate import ApiGate
from cong.http.context import Services
from cong.http.front import Front, cors_options
from cong.http.metrics import MeasuredUsageWriter, Metrics
from cong.http.middleware import EdgeMiddleware
from cong.http.responses import error_response
from cong.http.shutdown import Drain, install_signal_handlers
from cong.http.web import pages as web_pages
from cong.limits.factory import build_rate_limiter
from cong.memory.embedder import GatewayEmbedder
from cong.memory.wiring import MemoryServices, build_memory
from cong.protocol.errors import (
    APIError,
    internal_error,
    invalid_request,
    method_not_allowed,
    route_not_found,
)
from cong.settings import Settings
from cong.storage.change_feed import ChangeFeed
from cong.storage.database import Database

log = logging.getLogger("cong")


def create_app(settings: Settings) -> ASGIApp:
    """Build the app for ``settings``: the request-id/size-limit/access-log edge, in front
    of the ``/v1`` fast path and the FastAPI app. Services are created on startup, closed
    on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.effective_database_url)
        secret = server_secret(settings)
        channels = Channels(db, SecretBox(secret), settings)
        loader = CatalogLoader(settings, channels)
        await loader.reload(force=True)
        loader.start()
        await ensure_embedded_prices(db, settings)
        policy = settings.routing
        health = ChannelHealth(
            threshold=policy.failure_threshold,
            window=policy.failure_window,
            cooldown=policy.cooldown,
            listener=loader.persist_health,
        )
        billing = settings.billing
        wallets = Wallets(db, Prices(db, billing.price_cache_seconds), unpriced=billing.unpriced)
        usage = MeasuredUsageWriter(db, metrics, retention_days=billing.usage_retention_days)
        usage.start()
        metrics.health = health
        limiter = build_rate_limiter(settings.redis_url)
        metering = Metering(wallets, usage, limiter)
        streams = MeteredStreams(
            metering, billing.drain_seconds, health, billing.max_concurrent_drains
        )
        sweeper = Sweeper(wallets, billing.reservation_ttl, billing.sweep_interval)
        sweeper.start()
        accounts = Accounts(db, secret, settings.key_cache_seconds)
        changes = ChangeFeed(redis_url=settings.redis_url, database_url=db.url)
        changes.on("keys", accounts.drop_cache)
        changes.on("prices", wallets.prices.invalidate)
        accounts.announce = functools.partial(changes.publish, "keys")
        changes.start()
        codes = Codes(db, secret)
        passwords = Passwords()
        router = Router(policy, health)
        catalogue = ModelCatalogue(db, loader, health, wallets.prices, settings)
        gateway = Gateway(
            loader,
            router,
            metering,
            streams,
            billing.default_output_tokens,
            catalogue.context_length,
        )
        memory: MemoryServices = build_memory(
            db, settings, loader, router, gateway, accounts.forget_cached
        )
        embedding_model = settings.files.embedding_model or settings.memory.embedding_model
        files = Files(
            db,
            open_blob_store(settings),
            settings.files,
            GatewayEmbedder(loader, router, embedding_model),
        )
        file_chats = FileChats(files, catalogue, gateway, settings.base_url)
        app.state.services = Services(
            settings=settings,
            accounts=accounts,
            gateway=gateway,
            channels=channels,
            loader=loader,
            wallets=wallets,
            limiter=limiter,
            status=StatusService(
                loader,
                health,
                model_server_enabled=settings.model_server.enabled,
                data_dir=settings.data_dir,
                limiter=limiter,
                draining=lambda: drain.draining,
            ),
            groups=Groups(db, on_change=accounts.forget_cached),
            codes=codes,
            prices=PriceBook(
                db,
                wallets.prices,
                functools.partial(changes.publish, "prices"),
                aliases=lambda: loader.catalog.aliases,
            ),
            reports=Reports(db, wallets),
            sessions=Sessions(db, secret, accounts, passwords, limiter, settings.web),
            registration=Registration(db, accounts, passwords, codes.redeem),
            catalogue=catalogue,
            usage_series=UsageSeries(db),
            metrics=metrics,
            responses=ResponsesAPI(gateway, StoredResponses(db), file_chats),
            files=files,
            file_chats=file_chats,
            chat_memory=memory.chat,
            conversations=memory.conversations,
            memory_modes=memory.modes,
        )
        install_signal_handlers(drain)
        _settle_heap()
        try:
            yield
        finally:
            await memory.close()
            await sweeper.close()
            await streams.close()
            await usage.close()
            await limiter.close()
            await changes.close()
            await loader.close()
            app.state.services.files.close()
            await db.close()

    drain = Drain(settings.server.drain_seconds)
    metrics = Metrics(
        [
            *openai_routes.exact_routes,
            *file_routes.exact_routes,
            *memory_chat.exact_routes,
            "/api/health",
            "/api/status",
            "/metrics",
        ]
    )
    app = FastAPI(
        title="Cổng",
        version=__version__,
        lifespan=lifespan,
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        # No trailing-slash redirects: their Location would come from the Host header.
        redirect_slashes=False,
    )
    api_docs.install(app)
    app.router.routes.extend(web_pages.routes)
    app.include_router(system_routes.router)
    app.include_router(system_routes.metrics_router)
    app.include_router(admin_routes.router)
    for router in (
        *account_routes.routers,
        *billing_routes.routers,
        *session_routes.routers,
        *model_routes.routers,
        *usage_routes.routers,
        *conversation_routes.routers,
        *memory_routes.routers,
        *file_quota_routes.routers,
    ):
        app.include_router(router)
    app.add_exception_handler(APIError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(ApiGate)
    app.add_middleware(CORSMiddleware, **cors_options(settings.cors_origins))
    exact = {**openai_routes.exact_routes, **messages_routes.routes}
    exact.update(responses_routes.exact_routes)
    exact.update(file_routes.exact_routes)
    exact.update(memory_chat.exact_routes)
    prefixed = {**openai_routes.model_routes, **responses_routes.prefixed_routes}
    prefixed.update(file_routes.prefixed_routes)
    front = Front(app, exact, prefixed, settings.cors_origins)
    return EdgeMiddleware(
        front,
        max_body_bytes=settings.max_body_bytes,
        access_log=settings.access_log,
        drain=drain,
        metrics=metrics,
    )


def _settle_heap() -> None:
    """Move everything allocated at start-up (modules, models, settings) out of the
    cyclic garbage collector's view and collect the young generation less often: full
    collections over that heap paused the event loop ~70 ms under load (p99) and cost
    ~8% of the CPU per request. Request objects are short-lived and acyclic, so the
    young generation stays small either way."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def create_app_from_env() -> ASGIApp:
    """Factory for ``uvicorn --factory`` (used by ``cong serve`` with several workers)."""
    return create_app(Settings.load())


async def _api_error(_request: Request, exc: APIError) -> Response:
    return error_response(exc)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 404:
        return error_response(route_not_found(request.url.path))
    if exc.status_code == 405:
        return error_response(method_not_allowed())
    return error_response(APIError(exc.status_code, str(exc.detail), type="invalid_request_error"))


async def _validation_error(_request: Request, exc: RequestValidationError) -> Response:
    first = exc.errors()[0] if exc.errors() else {}
    param = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
    return error_response(invalid_request(str(first.get("msg", "Invalid request.")), param=param))


async def _unexpected(_request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return error_response(internal_error())
