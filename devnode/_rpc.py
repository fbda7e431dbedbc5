"""Substrate's JSON-RPC API over WebSocket and HTTP POST, served with aiohttp."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from ._block import Block
from ._chain import Chain, TxStatus
from ._errors import RpcError, ScaleDecodeError, TransactionRejected
from ._rpc_params import hex_param, invalid_params, param_at, to_hex
from ._rpc_v2 import Follow, register_spec_v2

__all__ = ["RpcServer"]

log = logging.getLogger("devnode.rpc")

Handler = Callable[["Session", list[Any]], Any]


@dataclass
class Subscribed:
    """A handler's answer that opened a subscription; `start` runs after the id is sent."""

    subscription_id: str
    start: Callable[[], None]


class Session:
    """One client connection: its subscriptions and an ordered, bounded outgoing queue."""

    def __init__(self, server: RpcServer, limit: int, subscriptions: bool = True) -> None:
        self.server = server
        self.supports_subscriptions = subscriptions
        #: Subscription starts waiting until the reply carrying their id has been queued.
        self.pending_starts: list[Callable[[], None]] = []
        self.outgoing: asyncio.Queue[str | None] = asyncio.Queue(maxsize=limit)
        self.subscriptions: dict[str, Callable[[], None]] = {}
        #: chainHead_v1_follow subscriptions and transaction_v1_broadcast operations (_rpc_v2)
        self.follows: dict[str, Follow] = {}
        self.broadcasts: dict[str, bytes] = {}
        self.broadcast_counter = 0
        self.closed = False
        self.overflowed = False

    def notify(self, method: str, subscription: str, result: Any) -> None:
        if self.closed:
            return
        message = json.dumps(
            {
                "jsonrpc": "2.0",
                "method": method,
                "params": {"subscription": subscription, "result": result},
            }
        )
        try:
            self.outgoing.put_nowait(message)
        except asyncio.QueueFull:
            # A client that does not read its notifications is cut off rather than buffered without bound.
            log.warning("client too slow for its subscriptions; closing the connection")
            self.overflowed = True
            self.close()

    def require_subscriptions(self) -> None:
        if not self.supports_subscriptions:
            raise RpcError(-32000, "Subscriptions are not available over HTTP: use a WebSocket")
        if len(self.subscriptions) >= self.server.chain.config.max_subscriptions_per_connection:
            raise RpcError(-32000, "Too many subscriptions on this connection")

    def add_subscription(self, unsubscribe: Callable[[], None]) -> str:
        self.require_subscriptions()
        if len(self.subscriptions) >= self.server.chain.config.max_subscriptions_per_connection:
            raise RpcError(-32000, "Too many subscriptions on this connection")
        subscription_id = secrets.token_hex(8)
        self.subscriptions[subscription_id] = unsubscribe
        return subscription_id

    def unsubscribe(self, subscription_id: Any) -> bool:
        unsubscribe = self.subscriptions.pop(str(subscription_id), None)
        if unsubscribe is None:
            return False
        unsubscribe()
        return True

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for unsubscribe in self.subscriptions.values():
            unsubscribe()
        self.subscriptions.clear()
        with contextlib.suppress(asyncio.QueueFull):
            self.outgoing.put_nowait(None)


class RpcServer:
    """Dispatches Substrate RPC methods against a `Chain`."""

    def __init__(self, chain: Chain, on_submit: Callable[[], None]) -> None:
        self.chain = chain
        self.on_submit = on_submit
        self.connections = 0
        self.methods: dict[str, Handler] = {}
        #: How often each known method was called (which interface a client speaks)
        self.calls: Counter[str] = Counter()
        self._register()

    # -- transport ---------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.chain.config.max_request_bytes)
        app.router.add_get("/", self._handle_get)
        app.router.add_post("/", self._handle_post)
        app.router.add_get("/health", self._handle_health)
        return app

    async def _handle_health(self, request: web.Request) -> web.Response:
        return web.json_response(self._system_health(Session(self, 1, subscriptions=False), []))

    async def _handle_post(self, request: web.Request) -> web.Response:
        session = Session(self, 1, subscriptions=False)
        body = await request.text()
        reply = await self.handle_text(session, body)
        session.close()
        return web.Response(text=reply or "", content_type="application/json")

    async def _handle_get(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.Response(
                status=405, text="devnode: use a WebSocket or HTTP POST with a JSON-RPC body\n"
            )
        config = self.chain.config
        if self.connections >= config.max_connections:
            return web.Response(status=503, text="too many connections\n")
        ws = web.WebSocketResponse(max_msg_size=config.max_request_bytes, heartbeat=30)
        await ws.prepare(request)
        self.connections += 1
        session = Session(self, config.max_pending_notifications)
        writer = asyncio.create_task(self._writer(ws, session))
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    reply = await self.handle_text(session, message.data)
                    if reply is not None and not session.closed:
                        await session.outgoing.put(reply)
                    await self._after_reply(session)
                elif message.type == WSMsgType.BINARY:
                    reply = await self.handle_text(session, message.data.decode("utf-8", "replace"))
                    if reply is not None and not session.closed:
                        await session.outgoing.put(reply)
                    await self._after_reply(session)
                elif message.type == WSMsgType.ERROR:
                    log.info("websocket closed with error: %s", ws.exception())
                    break
                if session.closed:
                    break
        finally:
            self.connections -= 1
            session.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, timeout=5)
            if not writer.done():
                writer.cancel()
            if session.overflowed:
                await ws.close(
                    code=1008, message=b"too many pending notifications: client too slow"
                )
            else:
                await ws.close()
        return ws

    async def _after_reply(self, session: Session) -> None:
        starts, session.pending_starts = session.pending_starts, []
        for start in starts:
            start()

    async def _writer(self, ws: web.WebSocketResponse, session: Session) -> None:
        while True:
            message = await session.outgoing.get()
            if message is None:
                return
            try:
                await ws.send_str(message)
            except (ConnectionResetError, RuntimeError):
                session.close()
                return

    # -- JSON-RPC framing --------------------------------------------------------------------

    async def handle_text(self, session: Session, text: str) -> str | None:
        try:
            request = json.loads(text)
        except ValueError:
            return json.dumps(
                {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None}
            )
        if isinstance(request, list):
            if not request:
                return json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "error": {"code": -32600, "message": "Invalid request"},
                        "id": None,
                    }
                )
            replies = [await self.handle_request(session, item) for item in request]
            answered = [r for r in replies if r is not None]
            return json.dumps(answered) if answered else None
        reply = await self.handle_request(session, request)
        return None if reply is None else json.dumps(reply)

    async def handle_request(self, session: Session, request: Any) -> dict[str, Any] | None:
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return {
                "jsonrpc": "2.0",
                "error": {"code": -32600, "message": "Invalid request"},
                "id": None,
            }
        request_id = request.get("id")
        method = request["method"]
        params = request.get("params", [])
        if params is None:
            params = []
        if not isinstance(params, list):
            error = RpcError(-32602, "Invalid params: named parameters are not supported")
            return {"jsonrpc": "2.0", "error": error.to_json(), "id": request_id}
        handler = self.methods.get(method)
        try:
            if handler is None:
                raise RpcError(-32601, "Method not found")
            self.calls[method] += 1
            result = handler(session, params)
            if isinstance(result, Awaitable):
                result = await result
        except RpcError as failure:
            return {"jsonrpc": "2.0", "error": failure.to_json(), "id": request_id}
        except TransactionRejected as rejected:
            refusal = RpcError(rejected.code, rejected.message, rejected.reason)
            return {"jsonrpc": "2.0", "error": refusal.to_json(), "id": request_id}
        except ScaleDecodeError as exc:
            return {"jsonrpc": "2.0", "error": invalid_params(str(exc)).to_json(), "id": request_id}
        except Exception:
            log.exception("internal error in %s", method)
            internal = RpcError(-32603, "Internal error")
            return {"jsonrpc": "2.0", "error": internal.to_json(), "id": request_id}
        if isinstance(result, Subscribed):
            session.pending_starts.append(result.start)
            result = result.subscription_id
        if request_id is None and "id" not in request:
            return None
        return {"jsonrpc": "2.0", "result": result, "id": request_id}

    # -- helpers -----------------------------------------------------------------------------

    def _block_at(self, value: Any) -> Block:
        """The block a method's optional hash parameter names; the best block when absent."""
        if value is None:
            return self.chain.best
        block = self.chain.block_by_hash(hex_param(value, "block hash"))
        if block is None:
            raise RpcError(
                4003, "Client error: UnknownBlock: Header was not found in the database", value
            )
        return block

    def _maybe_block(self, value: Any) -> Block | None:
        if value is None:
            return self.chain.best
        return self.chain.block_by_hash(hex_param(value, "block hash"))

    def _account_param(self, value: Any) -> bytes:
        if isinstance(value, str) and value.startswith("0x"):
            data = hex_param(value, "account")
            if len(data) != 32:
                raise invalid_params("account must be 32 bytes")
            return data
        if isinstance(value, str):
            from substrateinterface.utils.ss58 import ss58_decode

            try:
                return bytes.fromhex(ss58_decode(value))
            except (ValueError, IndexError) as exc:
                raise invalid_params(f"invalid SS58 address: {exc}") from exc
        raise invalid_params("account must be an SS58 address or 0x hex")

    # -- methods -----------------------------------------------------------------------------

    def _register(self) -> None:
        m = self.methods
        m["rpc_methods"] = lambda s, p: {"version": 1, "methods": sorted(self.methods)}
        m["system_name"] = lambda s, p: "devnode"
        m["system_version"] = lambda s, p: "0.1.0-devnode"
        m["system_chain"] = lambda s, p: self.chain.config.chain_name
        m["system_chainType"] = lambda s, p: "Development"
        m["system_properties"] = lambda s, p: {
            "ss58Format": self.chain.config.ss58_format,
            "tokenDecimals": self.chain.config.token_decimals,
            "tokenSymbol": self.chain.config.token_symbol,
        }
        m["system_health"] = self._system_health
        m["system_peers"] = lambda s, p: []
        m["system_accountNextIndex"] = lambda s, p: self.chain.next_index(
            self._account_param(param_at(p, 0))
        )

        m["chain_getBlockHash"] = self._chain_get_block_hash
        m["chain_getHead"] = self._chain_get_block_hash
        m["chain_getFinalizedHead"] = lambda s, p: to_hex(
            self.chain.blocks[self.chain.finalized].hash
        )
        m["chain_getFinalisedHead"] = m["chain_getFinalizedHead"]
        m["chain_getHeader"] = self._chain_get_header
        m["chain_getBlock"] = self._chain_get_block
        m["chain_getRuntimeVersion"] = self._runtime_version
        m["state_getRuntimeVersion"] = self._runtime_version
        for name in ("chain_subscribeNewHeads", "chain_subscribeNewHead", "subscribe_newHead"):
            m[name] = self._subscribe_heads("chain_newHead", finalized=False)
        m["chain_subscribeAllHeads"] = self._subscribe_heads("chain_allHead", finalized=False)
        for name in ("chain_subscribeFinalizedHeads", "chain_subscribeFinalisedHeads"):
            m[name] = self._subscribe_heads("chain_finalizedHead", finalized=True)
        for name in (
            "chain_unsubscribeNewHeads",
            "chain_unsubscribeNewHead",
            "unsubscribe_newHead",
            "chain_unsubscribeAllHeads",
            "chain_unsubscribeFinalizedHeads",
            "chain_unsubscribeFinalisedHeads",
            "state_unsubscribeStorage",
            "state_unsubscribeRuntimeVersion",
            "author_unwatchExtrinsic",
        ):
            m[name] = lambda s, p: s.unsubscribe(param_at(p, 0))

        m["state_getMetadata"] = self._state_get_metadata
        m["state_getStorage"] = self._state_get_storage
        m["state_getStorageAt"] = self._state_get_storage
        m["state_getStorageHash"] = self._state_get_storage_hash
        m["state_getStorageSize"] = self._state_get_storage_size
        m["state_getKeysPaged"] = self._state_get_keys_paged
        m["state_getKeysPagedAt"] = self._state_get_keys_paged
        m["state_queryStorageAt"] = self._state_query_storage_at
        m["state_subscribeStorage"] = self._state_subscribe_storage
        m["state_subscribeRuntimeVersion"] = self._state_subscribe_runtime_version
        m["state_call"] = self._state_call
        m["state_callAt"] = self._state_call

        m["author_submitExtrinsic"] = self._author_submit
        m["author_submitAndWatchExtrinsic"] = self._author_submit_and_watch
        m["author_pendingExtrinsics"] = lambda s, p: [
            to_hex(tx.ext.raw) for tx in self.chain.pool.by_hash.values()
        ]
        m["payment_queryInfo"] = self._payment_query_info
        m["payment_queryFeeDetails"] = self._payment_query_fee_details
        register_spec_v2(self)

    def _system_health(self, session: Session, params: list[Any]) -> dict[str, Any]:
        return {"peers": 0, "isSyncing": False, "shouldHavePeers": False}

    def _chain_get_block_hash(self, session: Session, params: list[Any]) -> Any:
        value = param_at(params, 0)
        if isinstance(value, list):
            return [self._one_block_hash(v) for v in value]
        return self._one_block_hash(value)

    def _one_block_hash(self, value: Any) -> str | None:
        if value is None:
            return to_hex(self.chain.best.hash)
        if isinstance(value, str):
            try:
                number = int(value, 16) if value.startswith("0x") else int(value)
            except ValueError as exc:
                raise invalid_params("block number must be an integer or hex") from exc
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            raise invalid_params("block number must be an integer or hex")
        if number < 0:
            raise invalid_params("block number must not be negative")
        found = self.chain.block_hash(number)
        return None if found is None else to_hex(found)

    def _chain_get_header(self, session: Session, params: list[Any]) -> Any:
        block = self._maybe_block(param_at(params, 0))
        return None if block is None else block.header.to_json()

    def _chain_get_block(self, session: Session, params: list[Any]) -> Any:
        block = self._maybe_block(param_at(params, 0))
        return None if block is None else block.to_json()

    def _runtime_version(self, session: Session, params: list[Any]) -> Any:
        self._block_at(param_at(params, 0))
        return self.chain.runtime.version.to_json()

    def _subscribe_heads(self, notification: str, finalized: bool) -> Handler:
        def subscribe(session: Session, params: list[Any]) -> Subscribed:
            listeners = (
                self.chain.finalized_listeners if finalized else self.chain.new_head_listeners
            )
            subscription_id = ""

            def on_block(block: Block) -> None:
                session.notify(notification, subscription_id, block.header.to_json())

            subscription_id = session.add_subscription(lambda: listeners.discard(on_block))

            def start() -> None:
                current = self.chain.blocks[self.chain.finalized] if finalized else self.chain.best
                on_block(current)
                listeners.add(on_block)

            return Subscribed(subscription_id, start)

        return subscribe

    def _state_get_metadata(self, session: Session, params: list[Any]) -> str:
        self._block_at(param_at(params, 0))
        return to_hex(self.chain.runtime.metadata())

    def _read(self, key_param: Any, hash_param: Any) -> bytes | None:
        key = hex_param(key_param, "storage key")
        block = self._block_at(hash_param)
        return self.chain.reader(block)(key)

    def _state_get_storage(self, session: Session, params: list[Any]) -> str | None:
        value = self._read(param_at(params, 0), param_at(params, 1))
        return None if value is None else to_hex(value)

    def _state_get_storage_hash(self, session: Session, params: list[Any]) -> str | None:
        from ._hashing import blake2_256

        value = self._read(param_at(params, 0), param_at(params, 1))
        return None if value is None else to_hex(blake2_256(value))

    def _state_get_storage_size(self, session: Session, params: list[Any]) -> int | None:
        value = self._read(param_at(params, 0), param_at(params, 1))
        return None if value is None else len(value)

    def _state_get_keys_paged(self, session: Session, params: list[Any]) -> list[str]:
        prefix_param = param_at(params, 0)
        prefix = b"" if prefix_param is None else hex_param(prefix_param, "prefix")
        count = param_at(params, 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise invalid_params("count must be a non-negative integer")
        if count > 1000:
            raise RpcError(
                4002, "count exceeds maximum value", "count exceeds maximum value. value: 1000"
            )
        start_param = param_at(params, 2)
        start = None if start_param in (None, "0x") else hex_param(start_param, "start key")
        block = self._block_at(param_at(params, 3))
        keys: list[str] = []
        for key in self.chain.storage.keys_after(prefix, start, block.number):
            if len(keys) >= count:
                break
            keys.append(to_hex(key))
        return keys

    def _state_query_storage_at(self, session: Session, params: list[Any]) -> list[dict[str, Any]]:
        keys = param_at(params, 0)
        if not isinstance(keys, list):
            raise invalid_params("keys must be a list")
        block = self._block_at(param_at(params, 1))
        read = self.chain.reader(block)
        changes = []
        for key_param in keys:
            key = hex_param(key_param, "storage key")
            value = read(key)
            changes.append([to_hex(key), None if value is None else to_hex(value)])
        return [{"block": to_hex(block.hash), "changes": changes}]

    def _state_subscribe_storage(self, session: Session, params: list[Any]) -> Subscribed:
        keys_param = param_at(params, 0)
        if keys_param is not None and not isinstance(keys_param, list):
            raise invalid_params("keys must be a list")
        keys = None if keys_param is None else [hex_param(k, "storage key") for k in keys_param]
        subscription_id = ""

        def on_changes(block: Block, changes: dict[bytes, bytes | None]) -> None:
            if keys is None:
                changed = list(changes.items())
            else:
                changed = [(k, changes[k]) for k in keys if k in changes]
            if changed:
                result = {
                    "block": to_hex(block.hash),
                    "changes": [[to_hex(k), None if v is None else to_hex(v)] for k, v in changed],
                }
                session.notify("state_storage", subscription_id, result)

        listeners = self.chain.storage_listeners
        subscription_id = session.add_subscription(lambda: listeners.discard(on_changes))

        def start() -> None:
            if keys is not None:
                best = self.chain.best
                read = self.chain.reader(best)
                initial = {
                    "block": to_hex(best.hash),
                    "changes": [
                        [to_hex(k), None if (v := read(k)) is None else to_hex(v)] for k in keys
                    ],
                }
                session.notify("state_storage", subscription_id, initial)
            listeners.add(on_changes)

        return Subscribed(subscription_id, start)

    def _state_subscribe_runtime_version(self, session: Session, params: list[Any]) -> Subscribed:
        subscription_id = session.add_subscription(lambda: None)

        def start() -> None:
            session.notify(
                "state_runtimeVersion", subscription_id, self.chain.runtime.version.to_json()
            )

        return Subscribed(subscription_id, start)

    def _state_call(self, session: Session, params: list[Any]) -> str:
        method = param_at(params, 0)
        if not isinstance(method, str):
            raise invalid_params("method must be a string")
        data = hex_param(param_at(params, 1) or "0x", "call data")
        block = self._block_at(param_at(params, 2))
        try:
            return to_hex(
                self.chain.runtime.runtime_api(
                    method, data, self.chain.reader(block), block.number, self.chain.hash_at
                )
            )
        except KeyError as exc:
            raise RpcError(
                4003, f"Client error: Execution failed: Exported method {method} is not found"
            ) from exc
        except ScaleDecodeError as exc:
            raise RpcError(
                4003, f"Client error: Execution failed: could not decode input: {exc}"
            ) from exc

    def _author_submit(self, session: Session, params: list[Any]) -> str:
        raw = hex_param(param_at(params, 0), "extrinsic")
        tx_hash = self.chain.submit(raw)
        self.on_submit()
        return to_hex(tx_hash)

    def _author_submit_and_watch(self, session: Session, params: list[Any]) -> Subscribed:
        session.require_subscriptions()
        raw = hex_param(param_at(params, 0), "extrinsic")
        buffered: list[TxStatus] = []
        live = False
        subscription_id = ""

        def on_status(status: TxStatus) -> None:
            if live:
                session.notify("author_extrinsicUpdate", subscription_id, status)
            else:
                buffered.append(status)

        tx_hash = self.chain.submit(raw, on_status)
        subscription_id = session.add_subscription(lambda: self.chain.unwatch(tx_hash, on_status))

        def start() -> None:
            nonlocal live
            live = True
            for status in buffered:
                session.notify("author_extrinsicUpdate", subscription_id, status)
            buffered.clear()
            self.on_submit()

        return Subscribed(subscription_id, start)

    def _payment_query_info(self, session: Session, params: list[Any]) -> dict[str, Any]:
        raw = hex_param(param_at(params, 0), "extrinsic")
        self._block_at(param_at(params, 1))
        runtime = self.chain.runtime
        ext = runtime.decode_extrinsic(raw)
        weight, fee = runtime.fee_of(ext)
        spec = runtime.call_spec(ext.call)
        return {
            "weight": {"refTime": weight.ref_time, "proofSize": weight.proof_size},
            "class": spec.dispatch_class.lower(),
            "partialFee": str(fee - ext.tip),
        }

    def _payment_query_fee_details(self, session: Session, params: list[Any]) -> dict[str, Any]:
        from ._pallet import Weight
        from .pallets.transaction_payment import compute_fee

        raw = hex_param(param_at(params, 0), "extrinsic")
        self._block_at(param_at(params, 1))
        runtime = self.chain.runtime
        ext = runtime.decode_extrinsic(raw)
        weight, _ = runtime.fee_of(ext)
        base = compute_fee(0, Weight(0))
        length_fee = compute_fee(len(ext.raw), Weight(0)) - base
        weight_fee = compute_fee(0, weight) - base
        return {
            "inclusionFee": {
                "baseFee": hex(base),
                "lenFee": hex(length_fee),
                "adjustedWeightFee": hex(weight_fee),
            },
            "tip": hex(ext.tip),
        }
