#!/usr/bin/env bash
# Make sure PostgreSQL's server binaries are installed (the tests start their own
# throw-away cluster on a free port; nothing is left running).
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    exit 0
fi
echo "[cong] Installing PostgreSQL for the storage tests…"
if [ "$(id -u)" -ne 0 ]; then
    echo "[cong] PostgreSQL is missing and this is not root: install the 'postgresql' package." >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
