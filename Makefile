# The two commands: `make demo` runs the main job, `make test` runs the whole suite.
# Both install what they need first (scripts/setup.sh is idempotent).
VENV := .venv/bin
PYTEST_ARGS ?=

.PHONY: setup test lint typecheck pytest demo up bench bindings clean chain-setup chain-build chain-test chain-node

setup:
	@bash scripts/setup.sh

# The Rust side runs before pytest: chain-build writes the wasm runtime's chain spec that the
# `runtime` group of the Python suite runs on (docs/runtime.md).
# Under `make test` a runtime variant that finds no built runtime fails instead of skipping.
test: export GENAI_REQUIRE_RUNTIME = 1
test: setup chain-setup lint typecheck chain-test chain-build pytest

lint:
	$(VENV)/ruff format --check .
	$(VENV)/ruff check .

typecheck:
	$(VENV)/mypy

pytest:
	$(VENV)/python -m pytest $(PYTEST_ARGS)

# CHAIN=runtime: the Rust runtime on chopsticks instead of devnode (built first; docs/runtime.md)
CHAIN ?= devnode
demo: setup $(if $(filter runtime,$(CHAIN)),chain-build)
	$(VENV)/python -m devstack.demo --chain $(CHAIN)

# The local stack in the foreground (devnode, Kubo, Redis, two daemons, the gateway) until Ctrl-C
up: setup
	$(VENV)/python -m devstack up

# Regenerate runtime_types/generated/devnode after a change to devnode's pallets: devnode writes
# its V16 metadata to a file, and the codegen generates from that file (it never imports devnode).
bindings:
	@mkdir -p build
	$(VENV)/python -m devnode --write-metadata build/devnode-metadata.scale
	$(VENV)/python -m runtime_types.codegen build/devnode-metadata.scale \
		--out runtime_types/generated/devnode --command "make bindings"

bench: setup
	@set -e; for script in bench/*.py; do echo "== $$script"; $(VENV)/python $$script; done

# The Rust runtime (chain/, docs/runtime.md): part of `make test`.
# Every cargo run goes through scripts/chain-env.sh (Debian's Rust 1.96, target dir outside the clone).
CHAIN_CARGO := nice -n 19 scripts/chain-env.sh cargo

chain-setup:
	@bash scripts/chain-setup.sh

CHAIN_PORT ?= 9944

# The wasm runtime (chain/runtime-wasm's build script) and its raw dev chain spec. Built on its own:
# selected next to the other members, genai-runtime-wasm makes cargo rebuild the whole native graph
# (most likely its build-dependencies change the features of shared host crates), so chain-test
# leaves it out and this target builds only it (docs/runtime.md).
chain-build: chain-setup
	$(CHAIN_CARGO) build -p genai-runtime-wasm
	@bash scripts/chain-spec.sh

chain-test: chain-setup
	$(CHAIN_CARGO) fmt --all --check
	$(CHAIN_CARGO) test --workspace --exclude genai-runtime-wasm --features runtime-benchmarks
	$(CHAIN_CARGO) clippy --workspace --exclude genai-runtime-wasm --all-targets --features runtime-benchmarks -- -D warnings
	@# Under clippy the wasm builder's prerequisite check fails; linting the crate needs no blob.
	SKIP_WASM_BUILD=1 $(CHAIN_CARGO) clippy -p genai-runtime-wasm --all-targets -- -D warnings

# The wasm runtime on chopsticks at ws://127.0.0.1:$(CHAIN_PORT), in the foreground.
chain-node: chain-build
	chain/runtime-node --port $(CHAIN_PORT)

clean:
	rm -rf .venv .tools .mypy_cache .ruff_cache .pytest_cache

# The conformance vectors (chain/conformance/vectors): devnode's pallets step by step, replayed
# byte for byte against the runtime by chain/runtime/tests/conformance.rs (docs/runtime.md).
.PHONY: vectors
vectors:
	$(VENV)/python -m devnode.conformance
