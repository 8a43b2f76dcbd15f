#!/usr/bin/env bash
# Make sure Redis's server binary is installed (the rate-limit tests start their own
# throw-away redis-server on a free port; nothing is left running).
set -euo pipefail
if command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ]; then
    exit 0
fi
echo "[cong] Installing Redis for the rate-limit tests…"
if [ "$(id -u)" -ne 0 ]; then
    echo "[cong] redis-server is missing and this is not root: install the 'redis-server' package." >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends redis-server >/dev/null
