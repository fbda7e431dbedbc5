"""The new JSON-RPC interface (paritytech/json-rpc-interface-spec): chainHead_v1, transaction_v1
and chainSpec_v1, as polkadot-api and other light-client-era tools speak it.

A `chainHead_v1_follow` subscription reports blocks as devnode seals and finalizes them and pins
each block it reports; operations (`_body`, `_call`, `_storage`) answer `started` with an
operation id and deliver their result as follow events right after that reply. Limits are the
spec's: follow subscriptions per connection (`-32800` past it), operations in progress per
subscription (`limitReached`, or `discardedItems` for storage), pinned finalized blocks (a `stop`
event past it), and broadcasts per connection (`null` past it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._block import Block
from ._errors import RpcError, ScaleDecodeError, TransactionRejected
from ._hashing import blake2_256
from ._rpc_params import hex_param, invalid_params, param_at, to_hex

if TYPE_CHECKING:
    from ._rpc import RpcServer, Session

__all__ = ["register_spec_v2"]

log = logging.getLogger("devnode.rpc")

FOLLOW_EVENT = "chainHead_v1_followEvent"
#: Error codes the spec assigns
LIMIT_FOLLOWS = -32800
INVALID_BLOCK = -32801
CALL_WITHOUT_RUNTIME = -32802
INVALID_CONTINUE = -32803
DUPLICATE_HASHES = -32804
STORAGE_TYPES = (
    "value",
    "hash",
    "closestDescendantMerkleValue",
    "descendantsValues",
    "descendantsHashes",
)


def _string_param(params: list[Any], index: int, name: str) -> str:
    value = param_at(params, index)
    if not isinstance(value, str):
        raise invalid_params(f"{name} must be a string")
    return value


def runtime_spec(server: RpcServer) -> dict[str, Any]:
    """The `{"type": "valid", "spec": ...}` runtime description of the spec (apis as an object)."""
    version = server.chain.runtime.version.to_json()
    return {
        "type": "valid",
        "spec": {
            "specName": version["specName"],
            "implName": version["implName"],
            "specVersion": version["specVersion"],
            "implVersion": version["implVersion"],
            "transactionVersion": version["transactionVersion"],
            "apis": dict(version["apis"]),
        },
    }


@dataclass
class StorageQuery:
    key: bytes
    kind: str


@dataclass
class Operation:
    """An operation in progress; `weight` is what it counts against the operation limit."""

    id: str
    weight: int
    #: A paged storage operation waiting for `chainHead_v1_continue`
    resume: Callable[[], None] | None = None
    waiting: bool = False


@dataclass
class Follow:
    """One `chainHead_v1_follow` subscription: its pinned blocks and operations."""

    server: RpcServer
    session: Session
    id: str
    with_runtime: bool
    pinned: dict[bytes, int] = field(default_factory=dict)
    operations: dict[str, Operation] = field(default_factory=dict)
    next_operation: int = 0
    alive: bool = True

    # -- events ------------------------------------------------------------------------------

    def emit(self, event: dict[str, Any]) -> None:
        self.session.notify(FOLLOW_EVENT, self.id, event)

    def start(self) -> None:
        chain = self.server.chain
        finalized = chain.blocks[chain.finalized]
        initialized: dict[str, Any] = {
            "event": "initialized",
            "finalizedBlockHashes": [to_hex(finalized.hash)],
        }
        if self.with_runtime:
            initialized["finalizedBlockRuntime"] = runtime_spec(self.server)
        self.pinned[bytes(finalized.hash)] = finalized.number
        self.emit(initialized)
        for number in range(chain.finalized + 1, chain.best_number + 1):
            self._new_block(chain.blocks[number])
        self.emit({"event": "bestBlockChanged", "bestBlockHash": to_hex(chain.best.hash)})
        chain.new_head_listeners.add(self.on_new_head)
        chain.finalized_listeners.add(self.on_finalized)

    def _new_block(self, block: Block) -> None:
        self.pinned[bytes(block.hash)] = block.number
        event: dict[str, Any] = {
            "event": "newBlock",
            "blockHash": to_hex(block.hash),
            "parentBlockHash": to_hex(block.header.parent_hash),
        }
        if self.with_runtime:
            event["newRuntime"] = None  # devnode's runtime never changes
        self.emit(event)

    def on_new_head(self, block: Block) -> None:
        self._new_block(block)
        self.emit({"event": "bestBlockChanged", "bestBlockHash": to_hex(block.hash)})

    def on_finalized(self, block: Block) -> None:
        self.emit(
            {
                "event": "finalized",
                "finalizedBlockHashes": [to_hex(block.hash)],
                "prunedBlockHashes": [],
            }
        )
        limit = self.server.chain.config.chainhead_max_pinned_blocks
        finalized = self.server.chain.finalized
        pinned_finalized = sum(1 for number in self.pinned.values() if number <= finalized)
        if pinned_finalized > limit:
            # The spec's answer to a client that does not unpin: the subscription stops.
            log.warning(
                "chainHead_v1_follow %s holds %d pinned finalized blocks (limit %d): stopped",
                self.id,
                pinned_finalized,
                limit,
            )
            self.stop()

    def stop(self) -> None:
        """End the subscription with a `stop` event; it is stale from now on."""
        if not self.alive:
            return
        self.emit({"event": "stop"})
        self.session.unsubscribe(self.id)

    def detach(self) -> None:
        """Stop listening (unfollow, stop, or the connection closing)."""
        self.alive = False
        self.server.chain.new_head_listeners.discard(self.on_new_head)
        self.server.chain.finalized_listeners.discard(self.on_finalized)
        self.session.follows.pop(self.id, None)
        self.pinned.clear()
        self.operations.clear()

    # -- operations --------------------------------------------------------------------------

    def pinned_block(self, hash_param: Any) -> Block:
        block_hash = hex_param(hash_param, "hash")
        if block_hash not in self.pinned:
            raise RpcError(
                INVALID_BLOCK,
                "Invalid block hash: not reported by this chainHead_v1_follow, or unpinned",
            )
        block = self.server.chain.block_by_hash(block_hash)
        assert block is not None  # devnode never prunes blocks
        return block

    def capacity(self) -> int:
        limit = self.server.chain.config.chainhead_max_operations
        return limit - sum(op.weight for op in self.operations.values())

    def new_operation(self, weight: int) -> Operation:
        self.next_operation += 1
        operation = Operation(str(self.next_operation), weight)
        self.operations[operation.id] = operation
        return operation

    def finish(self, operation: Operation, event: dict[str, Any]) -> None:
        if self.operations.pop(operation.id, None) is None:
            return  # stopped meanwhile
        self.emit({**event, "operationId": operation.id})

    def run_storage(self, operation: Operation, block: Block, queries: list[StorageQuery]) -> None:
        """Emit the items a page at a time; a page that leaves more waits for `_continue`."""
        chain = self.server.chain
        read = chain.reader(block)
        page_size = chain.config.chainhead_storage_page_items
        items = _storage_items(chain.storage.keys_after, read, block.number, queries)

        lookahead: list[dict[str, str]] = []

        def emit_page() -> None:
            operation.waiting = False
            if operation.id not in self.operations or not self.alive:
                return
            # One item past the page tells whether to wait for `_continue` or to finish.
            page = lookahead[:]
            lookahead.clear()
            for item in items:
                if len(page) >= page_size:
                    lookahead.append(item)
                    break
                page.append(item)
            if page:
                self.emit(
                    {"event": "operationStorageItems", "operationId": operation.id, "items": page}
                )
            if lookahead:
                operation.waiting = True
                self.emit({"event": "operationWaitingForContinue", "operationId": operation.id})
                return
            self.finish(operation, {"event": "operationStorageDone"})

        operation.resume = emit_page
        emit_page()


def _storage_items(
    keys_after: Callable[[bytes, bytes | None, int], Iterator[bytes]],
    read: Callable[[bytes], bytes | None],
    number: int,
    queries: list[StorageQuery],
) -> Iterator[dict[str, str]]:
    """The result items of a storage request, lazily (descendants are read page by page)."""
    for query in queries:
        if query.kind in ("value", "hash"):
            value = read(query.key)
            if value is not None:
                field_name = "value" if query.kind == "value" else "hash"
                yield {
                    "key": to_hex(query.key),
                    field_name: to_hex(_value_or_hash(query.kind, value)),
                }
        elif query.kind == "closestDescendantMerkleValue":
            # No trie here: a commitment to every (key, value) at or under the key, which
            # changes exactly when one of them does (docs/devnode.md lists the difference).
            digest = b""
            for key in keys_after(query.key, None, number):
                value = read(key)
                if value is not None:
                    digest = blake2_256(digest + blake2_256(key) + blake2_256(value))
            if digest:
                yield {"key": to_hex(query.key), "closestDescendantMerkleValue": to_hex(digest)}
        else:
            kind = "value" if query.kind == "descendantsValues" else "hash"
            field_name = "value" if kind == "value" else "hash"
            # Resume from the last key seen, so keys written by later blocks never shift a page.
            last: bytes | None = None
            while True:
                batch = []
                for key in keys_after(query.key, last, number):
                    batch.append(key)
                    if len(batch) >= 64:
                        break
                if not batch:
                    break
                for key in batch:
                    value = read(key)
                    if value is not None:
                        yield {"key": to_hex(key), field_name: to_hex(_value_or_hash(kind, value))}
                last = batch[-1]


def _value_or_hash(kind: str, value: bytes) -> bytes:
    return value if kind == "value" else blake2_256(value)


def register_spec_v2(server: RpcServer) -> None:
    """Add the chainHead_v1 / transaction_v1 / chainSpec_v1 methods to `server.methods`."""
    m = server.methods
    chain = server.chain

    def follow_of(session: Session, params: list[Any]) -> Follow | None:
        """The live follow subscription the first parameter names; None when stale or unknown."""
        follow_id = _string_param(params, 0, "followSubscription")
        return session.follows.get(follow_id)

    def follow(session: Session, params: list[Any]) -> Any:
        from ._rpc import Subscribed

        with_runtime = params[0] if params else None
        if not isinstance(with_runtime, bool):
            raise invalid_params("withRuntime must be a boolean")
        session.require_subscriptions()
        limit = chain.config.chainhead_max_follows_per_connection
        if len(session.follows) >= limit:
            raise RpcError(
                LIMIT_FOLLOWS,
                f"Maximum number of chainHead_v1_follow has been reached ({limit} per connection)",
            )
        subscription = Follow(server, session, "", with_runtime)
        subscription.id = session.add_subscription(subscription.detach)
        session.follows[subscription.id] = subscription
        return Subscribed(subscription.id, subscription.start)

    def unfollow(session: Session, params: list[Any]) -> None:
        subscription = follow_of(session, params)
        if subscription is not None:
            session.unsubscribe(subscription.id)

    def header(session: Session, params: list[Any]) -> str | None:
        subscription = follow_of(session, params)
        if subscription is None:
            return None
        return to_hex(subscription.pinned_block(param_at(params, 1)).header.encode())

    def unpin(session: Session, params: list[Any]) -> None:
        subscription = follow_of(session, params)
        value = param_at(params, 1)
        hashes = value if isinstance(value, list) else [value]
        decoded = [hex_param(h, "hash") for h in hashes]
        if subscription is None:
            return
        if len(set(decoded)) != len(decoded):
            raise RpcError(DUPLICATE_HASHES, "Invalid parameter: duplicate block hashes")
        if any(h not in subscription.pinned for h in decoded):
            raise RpcError(
                INVALID_BLOCK,
                "Invalid block hash: not reported by this chainHead_v1_follow, or unpinned",
            )
        for block_hash in decoded:
            del subscription.pinned[block_hash]

    def body(session: Session, params: list[Any]) -> dict[str, Any]:
        subscription = follow_of(session, params)
        if subscription is None:
            return {"result": "limitReached"}
        block = subscription.pinned_block(param_at(params, 1))
        if subscription.capacity() < 1:
            return {"result": "limitReached"}
        operation = subscription.new_operation(1)
        extrinsics = [to_hex(x) for x in block.extrinsics]
        session.pending_starts.append(
            lambda: subscription.finish(
                operation, {"event": "operationBodyDone", "value": extrinsics}
            )
        )
        return {"result": "started", "operationId": operation.id}

    def call(session: Session, params: list[Any]) -> dict[str, Any]:
        subscription = follow_of(session, params)
        if subscription is None:
            return {"result": "limitReached"}
        block = subscription.pinned_block(param_at(params, 1))
        function = _string_param(params, 2, "function")
        raw_parameters = param_at(params, 3)
        # An empty string is taken as no parameters, as Substrate takes it.
        data = b"" if raw_parameters == "" else hex_param(raw_parameters, "callParameters")
        if not subscription.with_runtime:
            raise RpcError(
                CALL_WITHOUT_RUNTIME,
                "chainHead_v1_call needs a chainHead_v1_follow subscription with withRuntime true",
            )
        if subscription.capacity() < 1:
            return {"result": "limitReached"}
        operation = subscription.new_operation(1)

        def run() -> None:
            try:
                output = chain.runtime.runtime_api(
                    function, data, chain.reader(block), block.number, chain.hash_at
                )
            except KeyError:
                event = {
                    "event": "operationError",
                    "error": f"Exported method {function} is not found",
                }
            except ScaleDecodeError as exc:
                event = {"event": "operationError", "error": f"could not decode input: {exc}"}
            else:
                event = {"event": "operationCallDone", "output": to_hex(output)}
            subscription.finish(operation, event)

        session.pending_starts.append(run)
        return {"result": "started", "operationId": operation.id}

    def storage(session: Session, params: list[Any]) -> dict[str, Any]:
        subscription = follow_of(session, params)
        if subscription is None:
            return {"result": "limitReached"}
        block = subscription.pinned_block(param_at(params, 1))
        items = param_at(params, 2)
        if not isinstance(items, list):
            raise invalid_params("items must be an array")
        child_trie = param_at(params, 3)
        queries = []
        for item in items:
            if not isinstance(item, dict) or item.get("type") not in STORAGE_TYPES:
                raise invalid_params(
                    f"each item needs a key and a type, one of {', '.join(STORAGE_TYPES)}"
                )
            queries.append(StorageQuery(hex_param(item.get("key"), "key"), item["type"]))
        if child_trie is not None:
            hex_param(child_trie, "childTrie")
            # devnode has no child tries: every child-trie key is absent.
            queries = []
        accepted = min(len(queries), max(subscription.capacity(), 0))
        if queries and accepted == 0:
            return {"result": "limitReached"}
        operation = subscription.new_operation(accepted)
        kept = queries[:accepted]
        session.pending_starts.append(lambda: subscription.run_storage(operation, block, kept))
        return {
            "result": "started",
            "operationId": operation.id,
            "discardedItems": len(queries) - accepted,
        }

    def continue_(session: Session, params: list[Any]) -> None:
        subscription = follow_of(session, params)
        operation_id = _string_param(params, 1, "operationId")
        if subscription is None:
            return
        operation = subscription.operations.get(operation_id)
        if operation is None:
            return
        if not operation.waiting or operation.resume is None:
            raise RpcError(
                INVALID_CONTINUE,
                "Invalid continue: the operation has not generated operationWaitingForContinue",
            )
        operation.waiting = False
        session.pending_starts.append(operation.resume)

    def stop_operation(session: Session, params: list[Any]) -> None:
        subscription = follow_of(session, params)
        operation_id = _string_param(params, 1, "operationId")
        if subscription is not None:
            subscription.operations.pop(operation_id, None)

    m["chainHead_v1_follow"] = follow
    m["chainHead_v1_unfollow"] = unfollow
    m["chainHead_v1_header"] = header
    m["chainHead_v1_unpin"] = unpin
    m["chainHead_v1_body"] = body
    m["chainHead_v1_call"] = call
    m["chainHead_v1_storage"] = storage
    m["chainHead_v1_continue"] = continue_
    m["chainHead_v1_stopOperation"] = stop_operation

    # -- transaction_v1 ------------------------------------------------------------------------

    def broadcast(session: Session, params: list[Any]) -> str | None:
        raw = hex_param(params[0] if params else None, "transaction")
        if len(session.broadcasts) >= chain.config.max_broadcasts_per_connection:
            return None
        session.broadcast_counter += 1
        operation_id = str(session.broadcast_counter)
        session.broadcasts[operation_id] = raw
        try:
            chain.submit(raw)
        except TransactionRejected as rejected:
            # The spec: an invalid transaction is silently not broadcast (it still holds a slot).
            log.info("transaction_v1_broadcast %s not pooled: %s", operation_id, rejected.reason)
        else:
            server.on_submit()
        return operation_id

    def stop_broadcast(session: Session, params: list[Any]) -> None:
        operation_id = _string_param(params, 0, "operationId")
        if session.broadcasts.pop(operation_id, None) is None:
            raise RpcError(-32602, "Invalid operation id: no such transaction_v1_broadcast")

    m["transaction_v1_broadcast"] = broadcast
    m["transaction_v1_stop"] = stop_broadcast

    # -- chainSpec_v1 --------------------------------------------------------------------------

    m["chainSpec_v1_chainName"] = lambda s, p: chain.config.chain_name
    m["chainSpec_v1_genesisHash"] = lambda s, p: to_hex(chain.genesis_hash)
    m["chainSpec_v1_properties"] = lambda s, p: {
        "ss58Format": chain.config.ss58_format,
        "tokenDecimals": chain.config.token_decimals,
        "tokenSymbol": chain.config.token_symbol,
    }
