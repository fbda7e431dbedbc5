"""`ChainClient`: the one async client over a node's JSON-RPC, typed by generated bindings."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from substrateinterface import Keypair, SubstrateInterface

from lifecycle import AsyncResource, State

from ._backend import ChainBackend, HeadStream, NodeBackend, fetch_block, head_number
from ._bindings import Bindings, Call, StorageEntry, ViewFunction
from ._client_types import Block, BlockHash, ClientConfig, ExtrinsicHash, Receipt, WaitFor
from ._compat import compare, retarget
from ._connection import Connection, RpcFailure
from ._errors import (
    ChainClientClosed,
    ChainClientError,
    ConnectionLost,
    DispatchError,
    ExtrinsicRejected,
    IncompatibleMetadata,
    RuntimeTypesError,
    TransactionRefused,
)
from ._hash import pallet_hash
from ._metadata import VariantDef, decode_metadata
from ._nonce import NonceManager
from ._refusal import Refusal, refusal_from_rpc, refusal_from_validity
from ._signing import Mortality, SigningContext, signed_extrinsic, signing_extensions

__all__ = ["BlockStream", "ChainClient"]

log = logging.getLogger("runtime_types.client")
V = TypeVar("V")


@dataclass
class _Pending:
    future: asyncio.Future[Receipt]
    wait: WaitFor
    receipt: Receipt | None = None
    #: The first block number the extrinsic can no longer be in (None: immortal)
    ends_at: int | None = None
    #: Set once the node accepted it into its pool
    submitted: bool = False


class _EraEnded(Exception):
    """A pooled extrinsic's era ended before any block included it: sign it again."""


class ChainClient(AsyncResource):
    """An async client for one node, typed by one generated package's `Bindings`.

    `async with ChainClient(BINDINGS, ClientConfig(url)) as client:` connects and checks that
    the node's metadata matches the bindings for the pallets in use (`IncompatibleMetadata`
    otherwise). Every use of substrate-interface runs on a connection's own thread. Its
    lifecycle is `lifecycle.AsyncResource`'s: `close()` is idempotent, and a closed client
    raises `ChainClientClosed`.
    """

    closed_error = ChainClientClosed

    def __init__(
        self,
        bindings: Bindings,
        config: ClientConfig | None = None,
        *,
        backend: Callable[[str], ChainBackend] | None = None,
    ) -> None:
        """`backend` makes the backend of a block stream or of the inclusion watcher from a
        name (default: `NodeBackend` over a connection of its own); tests pass in-memory ones."""
        super().__init__()
        #: the bindings in use: `bindings`, or on a node with other metadata the same classes
        #: over the node's (`runtime_types._compat`), set on connecting
        self.bindings = bindings
        self._generated = bindings
        self.config = config or ClientConfig()
        self._rpc = self._connection("rpc")
        self._backend_factory = backend or self._node_backend
        self._watch_backend: ChainBackend | None = None
        self._watch_heads: HeadStream | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._watch_from: int | None = None
        self._watcher_lock = asyncio.Lock()
        self._pending: dict[ExtrinsicHash, _Pending] = {}
        self._in_flight = asyncio.Semaphore(self.config.max_in_flight)
        self._nonces = NonceManager(self._fetch_nonce)
        self._events_key = "0x" + bindings.storage_key(_events_entry()).hex()
        #: the node's signed extensions and genesis hash, read at each (re)connect
        self._signing: tuple[tuple[str, ...] | ChainClientError, bytes] | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def connect(self) -> ChainClient:
        """Connect (and check the metadata); a no-op once connected."""
        return self if self.state is State.OPENED else await self.open()

    async def _aopen(self) -> None:
        await self._rpc.call(lambda s: None)

    async def _aclose(self) -> None:
        """Stop watching and close every connection."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, ChainClientError):
                await self._watcher
        self._fail_pending(ConnectionLost("the client was closed"))
        await self._rpc.close()
        if self._watch_backend is not None:
            await self._watch_backend.aclose()

    def _connection(self, name: str) -> Connection:
        connection = Connection(self.config, name)
        connection.on_connect = self._check_metadata
        return connection

    def _node_backend(self, name: str) -> ChainBackend:
        return NodeBackend(self._connection(name), self.bindings, self._events_key)

    def _check_metadata(self, substrate: SubstrateInterface) -> None:
        """Runs on a connection's thread each time it (re)connects."""
        result = substrate.rpc_request("state_getMetadata", []).get("result")
        node = decode_metadata(bytes.fromhex(str(result).removeprefix("0x")))
        wanted = self.config.pallets or tuple(self._generated.pallet_hashes)
        differing = []
        for name in wanted:
            expected = self._generated.pallet_hashes.get(name)
            try:
                actual = pallet_hash(node, node.pallet(name))
            except KeyError:
                actual = None
            if expected is None or actual != expected:
                differing.append(name)
        if differing:
            # Another runtime with the same pallets (the Rust runtime against devnode's
            # bindings): usable where every item the bindings know encodes the same there.
            newest = _newest_metadata(substrate) or node
            report = compare(self._generated.metadata, newest, differing)
            if report.incompatible:
                first = report.differences[report.incompatible[0]][0]
                raise IncompatibleMetadata(
                    "the node's metadata differs from the bindings for: "
                    f"{', '.join(report.incompatible)} ({first}; regenerate the bindings or "
                    "restrict ClientConfig.pallets)",
                    report.incompatible,
                )
            self.bindings = retarget(self._generated, newest)
            node = newest
        genesis = substrate.rpc_request("chain_getBlockHash", [0]).get("result")
        try:
            extensions: tuple[str, ...] | ChainClientError = signing_extensions(node)
        except ChainClientError as exc:  # reads still work; submissions raise it
            extensions = exc
        self._signing = (extensions, bytes.fromhex(str(genesis).removeprefix("0x")))

    # -- reads ------------------------------------------------------------------------------

    async def query(self, entry: StorageEntry[V], at: BlockHash | None = None) -> V:
        key = "0x" + self.bindings.storage_key(entry).hex()
        result = await self._rpc.rpc("state_getStorage", [key, at])
        data = None if result is None else bytes.fromhex(str(result).removeprefix("0x"))
        return self.bindings.decode_storage(entry, data)

    async def view(self, function: ViewFunction[V], at: BlockHash | None = None) -> V:
        """Run a pallet's view function (metadata V16) at a block (default: the best one).

        A node whose runtime lacks the function, or cannot decode its inputs, raises
        `ChainClientError` naming it.
        """
        data = "0x" + self.bindings.encode_view_function(function).hex()
        try:
            result = await self._rpc.rpc(
                "state_call", ["RuntimeViewFunction_execute_view_function", data, at]
            )
        except RpcFailure as exc:
            raise ChainClientError(
                f"view function {function.pallet}.{function.name}: {exc.data or exc}"
            ) from exc
        raw = bytes.fromhex(str(result).removeprefix("0x"))
        # Result<Vec<u8>, ViewFunctionDispatchError>
        if raw[:1] == b"\x00":
            output = _vec_u8(raw[1:])
            return self.bindings.decode_view_output(function, output)
        reason = {0: "NotImplemented", 1: "NotFound", 2: "Codec"}.get(
            raw[1] if len(raw) > 1 else -1
        )
        raise ChainClientError(
            f"view function {function.pallet}.{function.name} failed on the node: {reason or raw.hex()}"
        )

    async def keys(
        self, entry: StorageEntry[Any], at: BlockHash | None = None, page_size: int = 256
    ) -> AsyncIterator[bytes]:
        """Every storage key under `entry` (its keys may be a prefix of the map's, or none).

        Keys come a page at a time (`state_getKeysPaged`), in key order; for maps whose hashers
        are `*Concat`/`Identity` the key values can be read back from the key's tail.
        """
        prefix = "0x" + self.bindings.storage_key(entry).hex()
        start: str | None = None
        while True:
            page = await self._rpc.rpc("state_getKeysPaged", [prefix, page_size, start, at])
            for key in page:
                yield bytes.fromhex(str(key).removeprefix("0x"))
            if len(page) < page_size:
                return
            start = str(page[-1])

    async def entries(
        self, entry: StorageEntry[V], at: BlockHash | None = None, page_size: int = 256
    ) -> AsyncIterator[tuple[bytes, V]]:
        """(storage key, typed value) of every entry under `entry`, read at one block."""
        if at is None:
            at = await self._rpc.rpc("chain_getBlockHash", [])
        keys: list[str] = []
        async for key in self.keys(entry, at, page_size):
            keys.append("0x" + key.hex())
            if len(keys) == page_size:
                for pair in await self._values(entry, keys, at):
                    yield pair
                keys = []
        for pair in await self._values(entry, keys, at):
            yield pair

    async def _values(
        self, entry: StorageEntry[V], keys: list[str], at: BlockHash | None
    ) -> list[tuple[bytes, V]]:
        if not keys:
            return []
        result = await self._rpc.rpc("state_queryStorageAt", [keys, at])
        values = dict(result[0]["changes"]) if result else {}
        pairs = []
        for key in keys:
            raw = values.get(key)
            data = None if raw is None else bytes.fromhex(str(raw).removeprefix("0x"))
            pairs.append((bytes.fromhex(key[2:]), self.bindings.decode_storage(entry, data)))
        return pairs

    async def block(self, number: int) -> Block | None:
        return await fetch_block(self._rpc, self.bindings, self._events_key, number)

    async def head_number(self, *, finalized: bool = False) -> int:
        return await head_number(self._rpc, finalized)

    def blocks(self, *, finalized: bool = True, start: int | None = None) -> BlockStream:
        """Blocks in order from `start` (default: the next one), decoded with their events.

        The stream follows the node's head subscription (polling only a node that offers
        none) on connections of its own; across disconnects and node restarts it goes on
        from the next block number, so no block is missed or repeated.
        """
        self._check_usable()
        return BlockStream(self._backend_factory("stream"), finalized, start)

    # -- submission -------------------------------------------------------------------------

    async def submit(
        self, call: Call[Any], signer: Keypair, wait: WaitFor = "in_block", *, tip: int = 0
    ) -> Receipt:
        """Sign, submit and wait until the extrinsic is in a block (or finalized).

        The extrinsic is mortal (`ClientConfig.era_period` blocks from the finalized head) and
        carries `tip`. A failed dispatch does not raise: the receipt has `success=False` and
        `error` set to the generated error class (`receipt.raise_for_error()` raises it). A
        rejected extrinsic raises `ExtrinsicRejected`; a wrong nonce is resynced and retried, and
        one whose era ended before it got in is signed again from a newer birth block.
        """
        if wait not in ("in_block", "finalized"):
            raise ValueError(f"wait must be 'in_block' or 'finalized', not {wait!r}")
        if tip < 0:
            raise ValueError(f"tip must not be negative, not {tip}")
        self._check_usable()
        call_bytes = self.bindings.encode_call(call)
        async with self._in_flight:
            await self._ensure_watcher()
            account = signer.ss58_address
            stale_birth: Mortality | None = None
            nonce: int | None = None
            for attempt in range(4):
                if nonce is None:
                    nonce = await self._nonces.next(account)
                signed, mortality = await self._rpc.call(
                    functools.partial(
                        self._sign,
                        call_bytes=call_bytes,
                        signer=signer,
                        nonce=nonce,
                        tip=tip,
                        stale_birth=stale_birth,
                    )
                )
                ext_hash = ExtrinsicHash("0x" + hashlib.blake2b(signed, digest_size=32).hexdigest())
                pending = _Pending(
                    asyncio.get_running_loop().create_future(), wait, ends_at=mortality.ends_at()
                )
                self._pending[ext_hash] = pending
                try:
                    await self._rpc.rpc("author_submitExtrinsic", ["0x" + signed.hex()])
                except RpcFailure as exc:
                    self._pending.pop(ext_hash, None)
                    refusal = await self._refusal(exc, signed)
                    if refusal is Refusal.ALREADY_IMPORTED:
                        pass  # a retry after a reconnect: the first attempt got through
                    elif attempt < 3 and await self._era_ended(refusal, mortality):
                        log.info(
                            "the era of %s's transaction (born at block %d) ended: signing again",
                            account,
                            mortality.birth_number,
                        )
                        stale_birth = mortality
                        continue  # the same nonce, signed again
                    elif refusal.wrong_nonce and attempt < 3:
                        log.info(
                            "nonce %d of %s rejected (%s): resyncing", nonce, account, refusal.value
                        )
                        self._nonces.resync(account)
                        nonce = None
                        continue
                    else:
                        raise TransactionRefused(
                            str(exc.data or exc), refusal, exc.code, exc.data
                        ) from exc
                    self._pending[ext_hash] = pending
                pending.submitted = True
                try:
                    return await asyncio.wait_for(pending.future, self.config.submit_timeout)
                except _EraEnded:
                    if attempt == 3:
                        raise ExtrinsicRejected(
                            f"the era of {account}'s transaction kept ending before inclusion"
                        ) from None
                    log.info(
                        "%s's transaction (nonce %d) expired in the pool: signing again",
                        account,
                        nonce,
                    )
                    stale_birth = mortality
                finally:
                    self._pending.pop(ext_hash, None)
            raise ExtrinsicRejected(f"the transaction of {account} kept being refused")

    async def _era_ended(self, refusal: Refusal, mortality: Mortality) -> bool:
        """Whether a refusal means the transaction's era ended: a Substrate runtime answers
        AncientBirthBlock, or BadProof (the birth hash it checks against is another block's),
        so for BadProof the best block is compared with the era's end."""
        if mortality.immortal:
            return False
        if refusal is Refusal.ANCIENT_BIRTH_BLOCK:
            return True
        if refusal is not Refusal.BAD_PROOF:
            return False
        ends_at = mortality.ends_at()
        best = await head_number(self._rpc, False)
        return ends_at is not None and best + 1 >= ends_at

    async def _refusal(self, failure: RpcFailure, extrinsic: bytes) -> Refusal:
        """Why the node refused `extrinsic`: from the error's code and data, or, where a node
        words an invalid transaction's reason its own way, from its runtime's verdict."""
        refusal = refusal_from_rpc(failure.code, failure.data)
        if refusal is not None:
            return refusal
        try:
            return await self._validate_transaction(extrinsic)
        except RuntimeTypesError as exc:
            log.debug("the runtime could not say why it refused a transaction: %s", exc)
            return Refusal.OTHER

    async def _validate_transaction(self, extrinsic: bytes) -> Refusal:
        """`TaggedTransactionQueue_validate_transaction` at the best block, decoded."""
        metadata = self.bindings.metadata
        api = next((a for a in metadata.apis if a.name == "TaggedTransactionQueue"), None)
        methods = api.methods if api is not None else ()
        method = next((m for m in methods if m.name == "validate_transaction"), None)
        if method is None:
            return Refusal.OTHER  # metadata before V15 lists no runtime APIs
        best = await self._rpc.rpc("chain_getBlockHash", [])
        data = bytearray()
        for name, type_id in method.inputs:
            if name == "source":
                definition = metadata.types[type_id].definition
                assert isinstance(definition, VariantDef)
                data.append(next(v.index for v in definition.variants if v.name == "External"))
            elif name == "tx":
                data += extrinsic  # an opaque extrinsic: its encoding as it is
            elif name == "block_hash":
                data += bytes.fromhex(str(best).removeprefix("0x"))
            else:
                return Refusal.OTHER  # an API version this client does not know
        answer = await self._rpc.rpc(
            "state_call", ["TaggedTransactionQueue_validate_transaction", "0x" + data.hex(), best]
        )
        raw = bytes.fromhex(str(answer).removeprefix("0x"))
        return refusal_from_validity(self.bindings.codec.decode(method.output, raw))

    def _sign(
        self,
        substrate: SubstrateInterface,
        call_bytes: bytes,
        signer: Keypair,
        nonce: int,
        tip: int,
        stale_birth: Mortality | None,
    ) -> tuple[bytes, Mortality]:
        """Runs on the rpc connection's thread: the call bytes as a signed extrinsic.

        The call is not re-decoded (scalecodec cannot decode calls that hold a call, such as
        `Sudo.sudo`); the runtime version is read each time so an upgrade is signed for. The
        birth block is the finalized head; after an era ended, the best block if finality has
        not moved past the old birth block.
        """
        assert self._signing is not None  # set when the connection was made
        extensions, genesis = self._signing
        if isinstance(extensions, ChainClientError):
            raise extensions
        version = substrate.rpc_request("state_getRuntimeVersion", []).get("result")
        ctx = SigningContext(
            extensions, genesis, int(version["specVersion"]), int(version["transactionVersion"])
        )
        mortality = Mortality(None)
        if self.config.era_period is not None:
            birth_hash = substrate.rpc_request("chain_getFinalizedHead", []).get("result")
            header = substrate.rpc_request("chain_getHeader", [birth_hash]).get("result")
            number = int(header["number"], 16)
            if stale_birth is not None and number <= stale_birth.birth_number:
                header = substrate.rpc_request("chain_getHeader", []).get("result")
                number = int(header["number"], 16)
                birth_hash = substrate.rpc_request("chain_getBlockHash", [number]).get("result")
            mortality = Mortality(
                self.config.era_period, number, bytes.fromhex(str(birth_hash).removeprefix("0x"))
            )
        return signed_extrinsic(call_bytes, signer, nonce, ctx, mortality, tip), mortality

    async def _fetch_nonce(self, account: str) -> int:
        return int(await self._rpc.rpc("system_accountNextIndex", [account]))

    async def _ensure_watcher(self) -> None:
        async with self._watcher_lock:  # one watcher, however many submissions start at once
            if self._watcher is not None and not self._watcher.done():
                return
            if self._watch_backend is None:
                self._watch_backend = self._backend_factory("watch")
            # The best head announced now (the first one) bounds where the watcher starts.
            self._watch_heads = self._watch_backend.heads(False)
            best = await anext(self._watch_heads)
            if self._watch_from is None:
                self._watch_from = best + 1
            self._watcher = asyncio.create_task(
                self._watch(best), name="runtime-types-inclusion-watcher"
            )

    async def _watch(self, best: int) -> None:
        """Scans every new best block for pending extrinsics; resolves their receipts.

        Woken by the best heads the node announces and, while a receipt waits for finality,
        by the finalized ones.
        """
        assert self._watch_backend is not None and self._watch_heads is not None
        assert self._watch_from is not None
        backend = self._watch_backend
        best_heads = self._watch_heads
        finalized_heads: HeadStream | None = None
        finalized = -1
        waiting: dict[str, asyncio.Future[int]] = {}
        try:
            while True:
                while self._watch_from <= best:
                    block = await backend.fetch_block(self._watch_from)
                    if block is None:
                        break
                    self._match(block)
                    self._watch_from += 1
                for pending in self._pending.values():
                    ends_at = pending.ends_at
                    expired = ends_at is not None and self._watch_from >= ends_at
                    if (
                        expired
                        and pending.submitted
                        and pending.receipt is None
                        and not pending.future.done()
                    ):
                        pending.future.set_exception(_EraEnded())
                awaiting = [p for p in self._pending.values() if p.receipt and not p.future.done()]
                if awaiting and finalized_heads is None:
                    finalized_heads = backend.heads(True)
                canonical: dict[int, BlockHash | None] = {}
                for pending in awaiting:
                    receipt = pending.receipt
                    assert receipt is not None
                    if receipt.block_number <= finalized:
                        number = receipt.block_number
                        if number not in canonical:
                            block = await backend.fetch_block(number)
                            canonical[number] = None if block is None else block.hash
                        if canonical[number] == receipt.block_hash:
                            pending.future.set_result(replace(receipt, finalized=True))
                if "best" not in waiting:
                    waiting["best"] = asyncio.ensure_future(anext(best_heads))
                if finalized_heads is not None and "finalized" not in waiting:
                    waiting["finalized"] = asyncio.ensure_future(anext(finalized_heads))
                done, _ = await asyncio.wait(waiting.values(), return_when=asyncio.FIRST_COMPLETED)
                for kind, task in list(waiting.items()):
                    if task in done:
                        del waiting[kind]
                        if kind == "best":
                            best = task.result()
                        else:
                            finalized = task.result()
        except RuntimeTypesError as exc:
            # Pending submissions get the error (a lost connection, or events the bindings
            # cannot decode); the next submission starts a new watcher.
            log.warning("inclusion watcher stopped: %s", exc)
            self._fail_pending(exc)
        finally:
            for task in waiting.values():
                task.cancel()
            await asyncio.gather(*waiting.values(), return_exceptions=True)
            await best_heads.aclose()
            if finalized_heads is not None:
                await finalized_heads.aclose()

    def _match(self, block: Block) -> None:
        for index, extrinsic in enumerate(block.extrinsics):
            ext_hash = ExtrinsicHash("0x" + hashlib.blake2b(extrinsic, digest_size=32).hexdigest())
            pending = self._pending.get(ext_hash)
            if pending is None or pending.future.done():
                continue
            receipt = self._receipt(block, index, ext_hash)
            pending.receipt = receipt
            if pending.wait == "in_block":
                pending.future.set_result(receipt)

    def _receipt(self, block: Block, index: int, ext_hash: ExtrinsicHash) -> Receipt:
        events = tuple(e for e in block.events if e.extrinsic_index == index)
        success = any(e.pallet == "System" and e.name == "ExtrinsicSuccess" for e in events)
        fee = 0
        error: DispatchError | None = None
        for record in events:
            if record.pallet == "TransactionPayment" and record.name == "TransactionFeePaid":
                fee = int(getattr(record.event, "actual_fee", 0))
            if record.pallet == "System" and record.name == "ExtrinsicFailed":
                error = self._dispatch_error(getattr(record.event, "dispatch_error", None))
        return Receipt(
            ext_hash, block.hash, block.number, index, success, fee, events, error, False
        )

    def _dispatch_error(self, value: Any) -> DispatchError:
        name = getattr(type(value), "__variant_name__", None)
        if name == "Module":
            inner = getattr(value, "value", None)
            index = getattr(inner, "index", None)
            error = getattr(inner, "error", b"")
            if isinstance(error, int):
                error = bytes([error])
            if isinstance(index, int):
                return self.bindings.module_error(index, bytes(error))
        return DispatchError(f"dispatch failed: {name or value!r}", detail=value)

    def _fail_pending(self, exc: Exception) -> None:
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(exc)


class BlockStream(AsyncResource):
    """An async iterator of blocks; `async with` (or `aclose()`) releases its connections.

    It waits on the backend's head announcements and fetches every block number from the
    next one up to the announced head, in order, so an announcement that skips numbers
    leaves no gap.
    """

    def __init__(self, backend: ChainBackend, finalized: bool, start: int | None) -> None:
        super().__init__()
        self._backend = backend
        self._finalized = finalized
        self._next = start
        self._heads: HeadStream | None = None
        self._head = -1

    @property
    def next_number(self) -> int | None:
        """The number of the block the stream yields next (resume from here)."""
        return self._next

    def __aiter__(self) -> BlockStream:
        return self

    async def __anext__(self) -> Block:
        if self.closed:
            raise StopAsyncIteration
        if self._heads is None:
            self._heads = self._backend.heads(self._finalized)
            self._head = await anext(self._heads)
            if self._next is None:
                self._next = self._head + 1
        assert self._next is not None
        while self._next > self._head:
            self._head = await anext(self._heads)
        block = await self._backend.fetch_block(self._next)
        if block is None:  # the head moved back (a restarted node that lost blocks)
            raise ConnectionLost(f"block {self._next} is no longer on the chain")
        self._next += 1
        return block

    async def _aclose(self) -> None:
        await self._backend.aclose()

    async def aclose(self) -> None:
        """`close()`, under the name async iterators use; idempotent."""
        await self.close()


def _vec_u8(data: bytes) -> bytes:
    from ._scale import Reader

    reader = Reader(data)
    try:
        return reader.bytes_vec()
    except IndexError as exc:
        raise ChainClientError("a view function answer that is not Vec<u8>") from exc


def _newest_metadata(substrate: SubstrateInterface) -> Any:
    """The node's newest metadata this package decodes (V16 lists runtime APIs and view
    functions; `state_getMetadata` answers V14), or None when it offers no versions API."""
    from ._scale import Reader

    reply = substrate.rpc_request("state_call", ["Metadata_metadata_versions", "0x"])
    try:
        reader = Reader(bytes.fromhex(str(reply.get("result") or "0x").removeprefix("0x")))
        offered = [reader.uint(4) for _ in range(reader.compact())]
    except (IndexError, ValueError):
        return None
    for version in sorted(set(offered) & {14, 15, 16}, reverse=True):
        answer = substrate.rpc_request(
            "state_call",
            ["Metadata_metadata_at_version", "0x" + version.to_bytes(4, "little").hex()],
        ).get("result")
        data = bytes.fromhex(str(answer or "0x").removeprefix("0x"))
        if data[:1] == b"\x01":
            return decode_metadata(data)
    return None


def _events_entry() -> StorageEntry[Any]:
    return StorageEntry("System", "Events", (), (), (), -1, None)
