"""``python -m cong.modelserver``: load the models, then serve them over HTTP.

The port opens only once the models are loaded, so ``GET /health`` answering 200 means
ready. When serving starts, one JSON line is printed to stdout:
``{"event": "ready", "url": "http://127.0.0.1:PORT", "port": PORT, "models": [...]}``
(useful with ``--port 0``).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Sequence
from types import FrameType

import orjson
import uvicorn

from cong.modelserver.app import create_app
from cong.modelserver.options import KEY_ENVIRONMENT, ServerOptions, parse_options
from cong.modelserver.runtime import ModelRuntime
from cong.modelserver.watchdog import RESTARTING


def _offline_environment() -> None:
    """Nothing is ever downloaded: the models ship inside installed packages."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS"):
        os.environ.setdefault(name, "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _bind(options: ServerOptions) -> socket.socket:
    family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((options.host, options.port))
    sock.set_inheritable(True)
    return sock


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    _offline_environment()
    logging.basicConfig(
        level=options.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    runtime = ModelRuntime.load(options)
    sock = _bind(options)
    host, port = sock.getsockname()[:2]
    url_host = f"[{host}]" if ":" in host else host

    def announce() -> None:
        line = {
            "event": "ready",
            "url": f"http://{url_host}:{port}",
            "port": port,
            "models": runtime.model_ids,
        }
        sys.stdout.write(orjson.dumps(line).decode() + "\n")
        sys.stdout.flush()

    key = os.environ.pop(KEY_ENVIRONMENT, "") or None
    app = create_app(runtime, on_ready=announce, key=key)
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        log_level=options.log_level,
        access_log=options.log_level in ("info", "debug"),
        timeout_graceful_shutdown=5,
    )
    ModelServer(config, runtime).run(sockets=[sock])
    return 0


class ModelServer(uvicorn.Server):
    """On SIGTERM/SIGINT, running generations are answered with a retryable 503 (or an
    SSE error event) at once, so no client waits on a server that is going away."""

    def __init__(self, config: uvicorn.Config, runtime: ModelRuntime) -> None:
        super().__init__(config)
        self.runtime = runtime

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.runtime.abort_all(RESTARTING)
        super().handle_exit(sig, frame)


if __name__ == "__main__":
    raise SystemExit(main())
