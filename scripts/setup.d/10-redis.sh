#!/usr/bin/env bash
# Installs Debian's redis-server (used by the cache package's tier 2 and its tests).
# Idempotent: does nothing when redis-server is already on PATH. The tests start their own
# server on a random loopback port with no persistence; the system service is not needed.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo -n"
  else
    echo "setup: redis-server is missing and this user cannot install it (run as root: apt-get install redis-server)" >&2
    exit 1
  fi
fi

echo "setup: installing redis-server with apt-get"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends redis-server >/dev/null
# The package may start a system-wide instance; the cache tests do not use it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
  $sudo systemctl stop redis-server || true
fi
command -v redis-server >/dev/null 2>&1 || { echo "setup: redis-server still missing after install" >&2; exit 1; }
echo "setup: $(redis-server --version | cut -d' ' -f1-3) installed"
