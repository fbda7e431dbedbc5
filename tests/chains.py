"""The chain a test runs on: devnode (in a thread of the test process) or the Rust runtime (the
wasm on chopsticks, `devstack.LocalRuntimeNode`), behind one small interface.

Tests that hold for both take the `chain_kind` fixture (tests/conftest.py), parametrized over
`CHAINS`: the runtime variant carries the `runtime` marker (`-m runtime` runs only those,
`-m "not runtime"` leaves them out). Without a built runtime (no chopsticks or no raw chain
spec) a runtime variant is skipped with the reason naming `make chain-build`, or fails where
`$GENAI_REQUIRE_RUNTIME` is set (CI, where setup always builds it).

What differs between the two and is hidden here:

- Blocks without transactions: devnode seals one every `block_time` seconds by itself; chopsticks
  (`--build-block-mode Instant`) builds one per transaction and otherwise only on
  `dev_newBlock`, so a `block_time` starts a thread that asks for one that often (at most
  every `devstack.MIN_BLOCK_TIME`, 0.5 s).
  `new_blocks(n)` builds n blocks now on either.
- Finality: chopsticks finalizes every new head; devnode does with `finality_lag=0` (the
  default here).
- Time: chopsticks advances `Timestamp.Now` by 12 s per block, devnode by the wall clock.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, Literal, NoReturn, Protocol

import pytest

from devstack import LocalRuntimeNode, RuntimeNodeConfig, RuntimeNodeMissing
from devstack._runtime_node import json_rpc, node_command

ChainKind = Literal["devnode", "runtime"]
#: `chain_kind`'s parameters: devnode, and the runtime as the marked group
CHAINS = ("devnode", pytest.param("runtime", marks=pytest.mark.runtime))
#: A test of a package whose `node` fixture takes a chain kind (ocw_daemon's) runs on both.
on_both_chains = pytest.mark.parametrize("node", CHAINS, indirect=True)
PROTOCOL_PALLETS = ("Tokens", "ModelRegistry", "Providers", "Inference", "Channels")


class ChainUnderTest(Protocol):
    kind: ChainKind

    @property
    def url(self) -> str: ...

    @property
    def http_url(self) -> str: ...

    def new_blocks(self, count: int = 1) -> None: ...

    def rpc(self, method: str, *params: Any) -> Any: ...

    def pallets(self) -> tuple[str, ...]: ...

    def stop(self) -> None: ...


class DevnodeChain:
    kind: ChainKind = "devnode"

    def __init__(self, block_time: float | None = None, **settings: Any) -> None:
        from tests.devnode.conftest import start_node

        self.thread = start_node(block_time=block_time, **settings)

    @property
    def url(self) -> str:
        return self.thread.url

    @property
    def http_url(self) -> str:
        return self.thread.http_url

    def new_blocks(self, count: int = 1) -> None:
        node = self.thread.node
        assert node is not None
        for _ in range(count):
            self.thread.run(node.produce_block())

    def rpc(self, method: str, *params: Any) -> Any:
        return json_rpc(self.http_url, method, list(params))

    def pallets(self) -> tuple[str, ...]:
        node = self.thread.node
        assert node is not None
        return tuple(p.name for p in node.chain.runtime.pallets)

    def stop(self) -> None:
        self.thread.stop()


class RuntimeChain:
    kind: ChainKind = "runtime"

    def __init__(self, block_time: float | None = None) -> None:
        self.node = LocalRuntimeNode.start(block_time=block_time)

    @property
    def url(self) -> str:
        return self.node.url

    @property
    def http_url(self) -> str:
        return self.node.http_url

    def new_blocks(self, count: int = 1) -> None:
        self.node.new_blocks(count)

    def rpc(self, method: str, *params: Any) -> Any:
        return self.node.rpc(method, *params)

    def pallets(self) -> tuple[str, ...]:
        from runtime_types import decode_metadata

        raw = str(self.node.rpc("state_getMetadata"))
        return tuple(p.name for p in decode_metadata(bytes.fromhex(raw[2:])).pallets)

    def stop(self) -> None:
        self.node.stop()
        assert not self.node.tick_errors, self.node.tick_errors


#: Set (to 1) where the runtime is always built, as in `make test`: its absence then fails the
#: runtime variants instead of skipping them.
REQUIRE_RUNTIME = "GENAI_REQUIRE_RUNTIME"


def runtime_missing(exc: RuntimeNodeMissing) -> NoReturn:
    """Skip (or, with `$GENAI_REQUIRE_RUNTIME` set, fail) a runtime variant, saying why."""
    reason = f"the Rust runtime is not built: {exc}"
    if os.environ.get(REQUIRE_RUNTIME, "") not in ("", "0"):
        pytest.fail(f"{reason} (and ${REQUIRE_RUNTIME} requires it)")
    pytest.skip(reason)


def require_runtime() -> None:
    """For a runtime variant that starts the runtime by other means (a subprocess): skip or
    fail as `runtime_missing` when it is not built."""
    try:
        node_command(RuntimeNodeConfig())
    except RuntimeNodeMissing as exc:
        runtime_missing(exc)


def start_chain(kind: ChainKind, *, block_time: float | None = None) -> ChainUnderTest:
    """A fresh chain of `kind` with the dev genesis; a runtime variant skips when the runtime
    is not built (the reason says `make chain-build`; see `runtime_missing`)."""
    if kind == "devnode":
        return DevnodeChain(block_time)
    try:
        return RuntimeChain(block_time)
    except RuntimeNodeMissing as exc:
        runtime_missing(exc)


def running_chain(
    kind: ChainKind, *, block_time: float | None = None, needs: tuple[str, ...] = ()
) -> Iterator[ChainUnderTest]:
    """`start_chain` for a fixture: yields the chain and stops it. `needs`: pallets the test
    uses; while the runtime lacks one (#11 adds them one by one), the runtime variant is an
    expected failure naming the missing pallets, so it turns into a real run as they land."""
    chain = start_chain(kind, block_time=block_time)
    try:
        missing = [name for name in needs if name not in chain.pallets()]
        if missing:
            pytest.xfail(f"the Rust runtime has no {', '.join(missing)} pallet yet (#11)")
        yield chain
    finally:
        chain.stop()
