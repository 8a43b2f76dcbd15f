"""``cong serve``: migrate, ensure the admin, start the model server, run the gateway."""

from __future__ import annotations

import logging
import os
import signal
import sys

import uvicorn
from pydantic import SecretStr

from cong.accounts.service import Accounts
from cong.channels.model_server import ModelServerSupervisor
from cong.cli.runtime import run_command
from cong.settings import Settings


def say(message: str) -> None:
    print(f"[cong] {message}", flush=True)


def _first_admin_token(settings: Settings) -> str | None:
    """Migrate, then create the admin on first start (its new key, or None)."""
    token = settings.admin_token.get_secret_value() if settings.admin_token else None
    return run_command(lambda rt: Accounts(rt.db, rt.secret).ensure_admin(token), settings)


def serve(settings: Settings) -> int:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stdout,
        force=True,
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    say("Applying database migrations…")
    new_token = _first_admin_token(settings)

    supervisor: ModelServerSupervisor | None = None
    if settings.model_server.enabled:
        supervisor = ModelServerSupervisor(
            settings.model_server, settings.data_dir, say, log_level=settings.log_level
        )
        settings.model_server.port = supervisor.port
        settings.model_server.key = SecretStr(supervisor.key)
        os.environ["CONG_MODEL_SERVER__PORT"] = str(supervisor.port)
        os.environ["CONG_MODEL_SERVER__KEY"] = supervisor.key  # for the gateway workers
        say("Starting the embedded models (they answer 503 until loaded)…")
        supervisor.start()

    say(f"OpenAI base URL:  {settings.base_url}/v1")
    say(f"Dashboard:        {settings.base_url}/")
    say(f"Health:           {settings.base_url}/api/health")
    if settings.admin_token:
        say("Admin API key: the one in CONG_ADMIN_TOKEN")
    elif new_token:
        say(f"Admin API key (shown once, store it now): {new_token}")
    # uvicorn re-raises the signal that stopped it once it is done; after a graceful
    # drain on SIGTERM that would turn a clean stop into "killed by SIGTERM": exit 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    grace = 10
    try:
        if settings.workers > 1:
            uvicorn.run(
                "cong.http.app:create_app_from_env",
                factory=True,
                workers=settings.workers,
                host=settings.host,
                port=settings.port,
                loop="uvloop",
                http="httptools",
                access_log=False,
                log_level=settings.log_level,
                timeout_graceful_shutdown=grace,
            )
        else:
            from cong.http.app import create_app

            uvicorn.run(
                create_app(settings),
                host=settings.host,
                port=settings.port,
                loop="uvloop",
                http="httptools",
                access_log=False,
                log_level=settings.log_level,
                timeout_graceful_shutdown=grace,
            )
    finally:
        if supervisor is not None:
            supervisor.stop()
    return 0
