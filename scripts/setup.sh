#!/usr/bin/env bash
# Installs everything the project needs into the project itself: a virtual environment in .venv
# and tools in .tools/bin. Idempotent and quick when nothing changed, so `make test` and
# `make demo` call it every time.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python=$candidate; break
    fi
  done
fi
if [ -z "$python" ]; then
  echo "setup: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $python"
  "$python" -m venv .venv
fi

# Reinstall the project only when its dependency list changed.
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "setup: installing Python dependencies"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[dev]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# Further steps (system services, Go-built tools), one script each, run in name order.
mkdir -p .tools/bin
for step in scripts/setup.d/*.sh; do
  [ -e "$step" ] || continue
  started=$SECONDS
  PROJECT_ROOT="$root" bash "$step"
  echo "setup: $(basename "$step") done in $((SECONDS - started)) s"
done
echo "setup: ready in $SECONDS s"
