#!/usr/bin/env bash
# Builds Kubo (the `ipfs` daemon used by ipfs_store and its tests) into $PROJECT_ROOT/.tools/bin
# from the Go module proxy. Idempotent: does nothing when the pinned version is already there.
#
# To use your own Kubo instead, point ipfs_store at its RPC API (KuboConfig.api_url, or the
# IPFS_STORE_API environment variable for the tests) or put it at .tools/bin/ipfs; see
# docs/ipfs_store.md.
set -euo pipefail

KUBO_VERSION=${KUBO_VERSION:-v0.43.0}
root=${PROJECT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin="$root/.tools/bin"
want=${KUBO_VERSION#v}

if [ -x "$bin/ipfs" ]; then
  have=$("$bin/ipfs" version --number 2>/dev/null || true)
  if [ "$have" = "$want" ]; then
    exit 0
  fi
  echo "setup: Kubo $have found in .tools/bin, want $want: rebuilding"
fi

go=$(command -v go || true)
if [ -z "$go" ] && [ -x /usr/local/go/bin/go ]; then
  go=/usr/local/go/bin/go
fi
if [ -z "$go" ]; then
  echo "setup: Go is required to build Kubo (install Go >= 1.26 or put an ipfs $want binary at $bin/ipfs)" >&2
  exit 1
fi

mkdir -p "$bin"
echo "setup: building Kubo $KUBO_VERSION with $("$go" version | cut -d' ' -f3) (a few minutes, once)"
export GOBIN="$bin" CGO_ENABLED=0 GOFLAGS=-buildvcs=false
if ! "$go" install "github.com/ipfs/kubo/cmd/ipfs@$KUBO_VERSION"; then
  # `go install pkg@version` also asks the proxy for the module's version list (to report
  # deprecations) and gives up when a restricted proxy refuses that query. Building the same
  # pinned version from a throwaway module needs only the version itself; with Kubo as the only
  # requirement, minimal version selection picks exactly Kubo's own dependency versions.
  echo "setup: retrying the Kubo build from a throwaway module"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (
    cd "$work"
    "$go" mod init kubo-build >/dev/null 2>&1
    "$go" get "github.com/ipfs/kubo/cmd/ipfs@$KUBO_VERSION"
    "$go" install github.com/ipfs/kubo/cmd/ipfs
  )
fi
have=$("$bin/ipfs" version --number)
if [ "$have" != "$want" ]; then
  echo "setup: built Kubo reports $have, expected $want" >&2
  exit 1
fi
echo "setup: Kubo $have installed at $bin/ipfs"
