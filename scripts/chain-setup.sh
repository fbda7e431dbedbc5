#!/usr/bin/env bash
# Installs the toolchain the Rust runtime in chain/ needs (idempotent; docs/runtime.md explains why
# each piece is there). Run by `make test` (and every `make chain-*` target).
#  1. Debian bookworm-security's Rust 1.96 (rustc-web, cargo-web, rust-web-src, clippy, rustfmt)
#     and lld-22 (rust-lld for wasm), through apt-get; rustup's download server is not relied on.
#  2. A sysroot with core/alloc/compiler_builtins prebuilt for wasm32v1-none from Debian's library
#     source (substrate-wasm-builder's prerequisite check compiles without build-std, so the
#     library must exist prebuilt); its host parts are links to Debian's.
#  3. A rustc wrapper that adds --sysroot (CARGO_BUILD_RUSTC in scripts/chain-env.sh).
#  4. chopsticks from chain/chopsticks/package-lock.json (npm ci), when that file exists.
set -euo pipefail

CHAIN_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/genai-substrate"
RUST_VERSION=1.96.0
PACKAGES=(rustc-web cargo-web rust-web-src rust-web-llvm rust-web-clippy rustfmt-web lld-22)
SYSROOT="$CHAIN_CACHE/rust-sysroot-$RUST_VERSION"
WASM_TARGET=wasm32v1-none
HOST=x86_64-unknown-linux-gnu
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

step() { printf '== chain-setup: %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# 1. Debian packages
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    step "apt-get install ${missing[*]} (bookworm-security)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -t bookworm-security "${missing[@]}"
fi
installed="$(/usr/bin/rustc -V | awk '{print $2}')"
if [ "$installed" != "$RUST_VERSION" ]; then
    echo "chain-setup: /usr/bin/rustc is $installed, expected $RUST_VERSION" >&2
    exit 1
fi

# 2. wasm32v1-none sysroot, built once
if [ ! -f "$SYSROOT/lib/rustlib/$WASM_TARGET/lib/.complete" ]; then
    step "building core/alloc for $WASM_TARGET into $SYSROOT"
    rm -rf "$SYSROOT"
    mkdir -p "$SYSROOT/lib/rustlib/$WASM_TARGET/lib"
    for part in "$HOST" etc src; do
        ln -s "/usr/lib/rustlib/$part" "$SYSROOT/lib/rustlib/$part"
    done
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/src"
    printf '[package]\nname = "sysroot-probe"\nversion = "0.0.0"\nedition = "2021"\n[lib]\npath = "src/lib.rs"\n[profile.release]\npanic = "abort"\n' \
        >"$work/Cargo.toml"
    printf '#![no_std]\nextern crate alloc;\n' >"$work/src/lib.rs"
    # embed-bitcode: the runtime is built with LTO, which needs the bitcode section in these rlibs.
    (cd "$work" && env -u CARGO_BUILD_RUSTC RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
        RUSTFLAGS="-C embed-bitcode=yes" CARGO_TARGET_DIR="$work/target" \
        nice -n 19 /usr/bin/cargo build -q --release --target "$WASM_TARGET" \
        -Zbuild-std=core,alloc)
    cp "$work"/target/$WASM_TARGET/release/deps/*.rlib "$SYSROOT/lib/rustlib/$WASM_TARGET/lib/"
    rm -f "$SYSROOT"/lib/rustlib/$WASM_TARGET/lib/libsysroot_probe-*.rlib
    touch "$SYSROOT/lib/rustlib/$WASM_TARGET/lib/.complete"
fi

# 3. rustc wrapper
mkdir -p "$CHAIN_CACHE/bin"
wrapper="$CHAIN_CACHE/bin/rustc"
expected="#!/bin/sh
exec /usr/bin/rustc --sysroot \"$SYSROOT\" \"\$@\""
if [ ! -x "$wrapper" ] || [ "$(cat "$wrapper")" != "$expected" ]; then
    step "writing $wrapper"
    printf '%s\n' "$expected" >"$wrapper"
    chmod +x "$wrapper"
fi

# 4. chopsticks, installed once per lock file outside the clone (npm ci is ~2 min of CPU even from a
#    warm npm cache, and CI runs in a fresh clone); the clone's node_modules is a link to it.
if [ -f "$ROOT/chain/chopsticks/package-lock.json" ]; then
    lock_hash="$(sha256sum "$ROOT/chain/chopsticks/package-lock.json" | cut -c1-16)"
    modules="$CHAIN_CACHE/chopsticks/$lock_hash"
    if [ ! -f "$modules/.complete" ]; then
        step "npm ci (chopsticks) into $modules"
        rm -rf "$modules"
        mkdir -p "$modules"
        cp "$ROOT/chain/chopsticks/package.json" "$ROOT/chain/chopsticks/package-lock.json" "$modules/"
        (cd "$modules" && npm ci --no-audit --no-fund --loglevel=error --prefer-offline)
        touch "$modules/.complete"
    fi
    link="$ROOT/chain/chopsticks/node_modules"
    if [ "$(readlink "$link" 2>/dev/null)" != "$modules/node_modules" ]; then
        rm -rf "$link"
        ln -s "$modules/node_modules" "$link"
    fi
fi
step "ready (target dir: $CHAIN_CACHE/target)"
