#!/usr/bin/env bash
# Writes the raw dev chain spec of the built wasm runtime (chain/chopsticks/make-spec.mjs runs the
# runtime's GenesisBuilder in chopsticks' executor) to
# ${XDG_CACHE_HOME:-~/.cache}/genai-substrate/chain-spec/genai-dev.raw.json, where runtime-node
# finds it. The wasm is built by chain/runtime-wasm's build script (`make chain-build`); the path
# below is where substrate-wasm-builder puts the genai-runtime blob (docs/runtime.md).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/genai-substrate"
target="${CARGO_TARGET_DIR:-$cache/target}"
profile="${CHAIN_PROFILE:-debug}"
wasm="$target/$profile/wbuild/genai-runtime/genai_runtime.compact.compressed.wasm"
if [ ! -f "$wasm" ]; then
    echo "chain-spec: no wasm runtime at $wasm; run 'make chain-build' (docs/runtime.md)" >&2
    exit 2
fi
mkdir -p "$cache/chain-spec"
node "$root/chain/chopsticks/make-spec.mjs" "$wasm" "$cache/chain-spec/genai-dev.raw.json"
