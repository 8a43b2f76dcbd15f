#!/usr/bin/env bash
# Make sure Debian's Chromium is installed: the browser tests (tests/web/) drive it with
# Playwright for Python through executable_path=/usr/bin/chromium (Playwright's own
# browser downloads are never used).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
echo "[cong] Installing Chromium for the browser tests…"
if [ "$(id -u)" -ne 0 ]; then
    echo "[cong] /usr/bin/chromium is missing and this is not root: install the 'chromium' package." >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
(
    flock 9
    if [ ! -x /usr/bin/chromium ]; then
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
    fi
) 9>/tmp/apt.lock
