#!/usr/bin/env bash
# Runs a command (usually cargo) in chain/ with the Debian Rust toolchain that scripts/chain-setup.sh
# installs: `scripts/chain-env.sh cargo test`. Sets what the build needs and cargo cannot read from
# a config file (config.toml does not expand variables):
#   CARGO_TARGET_DIR     outside the clone, so a fresh CI clone on the same machine reuses it
#   CARGO_BUILD_RUSTC    a wrapper around Debian's rustc that adds --sysroot (the prebuilt
#                        wasm32v1-none core/alloc live there); substrate-wasm-builder strips
#                        RUSTC but keeps CARGO_BUILD_RUSTC
#   CARGO_BUILD_RUSTDOC  Debian's rustdoc (doc tests fail with E0514 under another rustc)
#   WASM_BUILD_*         release wasm, and --allow-undefined for rustc >= 1.96 (see docs/runtime.md)
set -euo pipefail

CHAIN_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/genai-substrate"
export CHAIN_CACHE
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CHAIN_CACHE/target}"
export CARGO_BUILD_RUSTC="$CHAIN_CACHE/bin/rustc"
export CARGO_BUILD_RUSTDOC=/usr/bin/rustdoc
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export WASM_BUILD_TYPE=release
export WASM_BUILD_RUSTFLAGS="-C link-arg=--allow-undefined"
# Debian's cargo, rustc, clippy and rustfmt (1.96) come before rustup's in PATH, so `cargo` in build
# scripts ($CARGO) and every subcommand are the same release.
export PATH="/usr/bin:$PATH"
unset RUSTC RUSTUP_TOOLCHAIN

if [ ! -x "$CARGO_BUILD_RUSTC" ]; then
    echo "chain-env: $CARGO_BUILD_RUSTC is missing; run 'make chain-setup' first" >&2
    exit 2
fi

cd "$(dirname "$0")/../chain"
exec "$@"
