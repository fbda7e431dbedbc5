#!/usr/bin/env bash
# polkadot.js for tests/devnode/test_polkadotjs.py, which drives devnode with an unmodified
# polkadot.js client. Installs Node.js from Debian when missing, then the locked packages.
set -euo pipefail
root=${PROJECT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
dir="$root/tests/devnode/polkadotjs"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing Node.js (Debian packages)"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq nodejs npm >/dev/null
fi

stamp="$dir/node_modules/.lock-$(sha256sum "$dir/package-lock.json" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing polkadot.js for the devnode compatibility test"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$stamp"
fi
