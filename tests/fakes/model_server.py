"""A stand-in for ``python -m cong.modelserver`` whose health the test steers.

Serves ``GET /health`` on ``--port`` the way the model server does (the same body
fields, the same per-start key in ``CONG_MODEL_SERVER_KEY``): idle and healthy for
``--after`` seconds, then as told by ``--mode``:

- ``slow``: busy, every answer takes ``--delay`` seconds, decode progress keeps moving
  (a loaded server: must never be restarted);
- ``stuck``: busy, answers at once, progress never moves (a stuck decode loop);
- ``stalled``: answers 503 ``{"status": "stalled"}`` (the model server's own watchdog).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=["slow", "stuck", "stalled"], required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--after", type=float, default=0.0)
    args = parser.parse_args()
    key = os.environ.get("CONG_MODEL_SERVER_KEY", "")
    started = time.monotonic()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("authorization") != f"Bearer {key}":
                self._send(401, {"error": {"message": "no", "code": "invalid_api_key"}})
                return
            if time.monotonic() - started < args.after:
                self._send(200, {"status": "ok", "busy": False, "progress": 0})
                return
            if args.mode == "slow":
                time.sleep(args.delay)
            progress = int((time.monotonic() - started) * 10) if args.mode == "slow" else 7
            body = {"status": "ok", "busy": True, "progress": progress}
            if args.mode == "stalled":
                body = {**body, "status": "stalled", "reason": "test: decode stuck"}
            self._send(503 if args.mode == "stalled" else 200, body)

        def _send(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
