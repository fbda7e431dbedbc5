#!/usr/bin/env bash
# polkadot-api for tests/devnode/test_papi.py, which drives devnode with an unmodified
# polkadot-api client over the new JSON-RPC interface. Node.js comes from 30-polkadotjs.sh;
# the packages from the committed lock. The test generates the typed descriptors itself
# (`papi generate`, offline) from devnode's metadata.
set -euo pipefail
root=${PROJECT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
dir="$root/tests/devnode/papi"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup: Node.js is missing (scripts/setup.d/30-polkadotjs.sh installs it)" >&2
  exit 1
fi

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  # Said here, at setup, so it is not first seen as a failing test; `make demo` does not need it.
  echo "setup: warning: polkadot-api needs Node.js >= 20 (found $(node --version));" \
    "tests/devnode/test_papi.py will fail until a newer Node.js is on PATH" >&2
fi

stamp="$dir/node_modules/.lock-$(sha256sum "$dir/package-lock.json" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing polkadot-api for the devnode compatibility test"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$stamp"
fi
