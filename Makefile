# The two commands: `make demo` runs the main job, `make test` runs the whole suite.
# Both install what they need first (scripts/setup.sh is idempotent).
VENV := .venv/bin
PYTEST_ARGS ?=

.PHONY: setup test lint typecheck pytest demo up bench bindings clean chain-setup chain-build chain-test

setup:
	@bash scripts/setup.sh

test: setup lint typecheck pytest

lint:
	$(VENV)/ruff format --check .
	$(VENV)/ruff check .

typecheck:
	$(VENV)/mypy

pytest:
	$(VENV)/python -m pytest $(PYTEST_ARGS)

demo: setup
	$(VENV)/python -m devstack.demo

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

# The Rust runtime (#11, groundwork; not part of setup/test until it is complete): docs/runtime.md.
# Every cargo run goes through scripts/chain-env.sh (Debian's Rust 1.96, target dir outside the clone).
CHAIN_CARGO := nice -n 19 scripts/chain-env.sh cargo

chain-setup:
	@bash scripts/chain-setup.sh

chain-build: chain-setup
	$(CHAIN_CARGO) build --workspace

chain-test: chain-setup
	$(CHAIN_CARGO) fmt --all --check
	$(CHAIN_CARGO) test --workspace --features runtime-benchmarks
	$(CHAIN_CARGO) clippy --workspace --all-targets --features runtime-benchmarks -- -D warnings

clean:
	rm -rf .venv .tools .mypy_cache .ruff_cache .pytest_cache
