#!/usr/bin/env bash
# pip install with visible progress: llama-cpp-python compiles llama.cpp from source the
# first time (several minutes on 2 cores); pip caches the built wheel for later installs.
set -euo pipefail
pip="$1"; shift
log="$(dirname "$pip")/../install.log"
echo "[cong] Installing dependencies (first time: llama.cpp compiles, ~3-15 minutes)…"
"$pip" install --progress-bar off -v "$@" >"$log" 2>&1 &
pid=$!
start=$(date +%s)
while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    step=$(grep -aoE '^\s*\[[0-9]+/[0-9]+\]' "$log" | tail -1 | tr -d ' ' || true)
    what=$(grep -aE '^(Collecting|Building wheel|Installing collected)' "$log" | tail -1 | cut -c1-60 || true)
    printf '[cong] %4ss  %s %s\n' "$(( $(date +%s) - start ))" "${step:+llama.cpp build $step}" "$what"
done
if ! wait "$pid"; then
    tail -40 "$log"
    echo "[cong] Install failed; full log: $log" >&2
    exit 1
fi
echo "[cong] Dependencies installed in $(( $(date +%s) - start ))s."
