"""Values of the chain client: identifiers, configuration, receipts and blocks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NewType

from ._bindings import EventRecord
from ._errors import DispatchError

__all__ = ["Block", "BlockHash", "ClientConfig", "ExtrinsicHash", "Receipt", "WaitFor"]

#: A block hash, `0x`-prefixed hex
BlockHash = NewType("BlockHash", str)
#: An extrinsic hash (blake2-256 of the encoded extrinsic), `0x`-prefixed hex
ExtrinsicHash = NewType("ExtrinsicHash", str)
WaitFor = Literal["in_block", "finalized"]


@dataclass(frozen=True)
class ClientConfig:
    url: str = "ws://127.0.0.1:9944"
    #: Pallets whose bindings must match the node's metadata (None: every pallet of the bindings)
    pallets: tuple[str, ...] | None = None
    #: First and largest delay between reconnection attempts, in seconds
    reconnect_initial_delay: float = 0.1
    reconnect_max_delay: float = 2.0
    #: Give up (ConnectionLost) when the node has been unreachable this long, in seconds
    reconnect_timeout: float = 60.0
    #: A connection that has never connected gives up after this long instead (None: as
    #: reconnect_timeout): interactive tools set it low so a wrong URL fails within seconds
    connect_timeout: float | None = None
    #: Socket timeout of each connection attempt and each request (None: wait forever); bounds
    #: the wait for a node that accepts the connection but does not answer
    socket_timeout: float | None = None
    #: How often new blocks are looked for, in seconds, on a node that offers no head
    #: subscriptions (an HTTP URL, or no `chain_subscribe*Heads` in `rpc_methods`)
    poll_interval: float = 0.05
    #: Longest wait for a submitted extrinsic to reach the wanted state, in seconds
    submit_timeout: float = 120.0
    #: Extrinsics in flight at once (further submissions wait)
    max_in_flight: int = 1024
    #: Blocks a signed extrinsic stays valid, counted from the finalized head when signed
    #: (rounded up to a power of two, 4 to 65536); None signs immortal extrinsics
    era_period: int | None = 64

    def __post_init__(self) -> None:
        if self.era_period is not None and not 4 <= self.era_period <= 1 << 16:
            raise ValueError(f"era_period must be None or 4..65536, not {self.era_period}")


@dataclass(frozen=True)
class Receipt:
    """The outcome of an included extrinsic."""

    extrinsic_hash: ExtrinsicHash
    block_hash: BlockHash
    block_number: int
    extrinsic_index: int
    success: bool
    #: The fee actually paid (`TransactionPayment.TransactionFeePaid`), 0 when not reported
    fee: int
    #: The extrinsic's events, typed
    events: tuple[EventRecord, ...]
    #: A generated `ModuleError` subclass (or `DispatchError`) when the dispatch failed
    error: DispatchError | None
    finalized: bool

    def raise_for_error(self) -> None:
        if self.error is not None:
            raise self.error


@dataclass(frozen=True)
class Block:
    number: int
    hash: BlockHash
    parent_hash: BlockHash
    #: The encoded extrinsics, as in the block body
    extrinsics: tuple[bytes, ...]
    events: tuple[EventRecord, ...]
