"""The new JSON-RPC interface spoken directly: chainHead_v1 events, operations, pinning and
limits, transaction_v1, chainSpec_v1, and the runtime APIs polkadot-api relies on."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import sr25519
from substrateinterface import Keypair

from devnode import RUNTIME, DevNode, DevNodeConfig
from devnode._hashing import blake2_256, storage_prefix
from devnode._metadata import TRANSACTION_VALIDITY, VIEW_FUNCTION_RESULT
from devnode._runtime import Extrinsic
from devnode._scale import encode_compact

FOLLOW_EVENT = "chainHead_v1_followEvent"


class Client:
    """A raw JSON-RPC client that keeps notifications per subscription."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    async def _receive(self) -> Any:
        message = json.loads((await self.ws.receive(timeout=10)).data)
        if isinstance(message, dict) and "method" in message and "id" not in message:
            self.events.append(message["params"]["result"])
            return None
        return message

    async def call(self, method: str, *params: Any) -> Any:
        self.next_id += 1
        request = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": list(params)}
        await self.ws.send_str(json.dumps(request))
        while True:
            reply = await self._receive()
            if reply is not None:
                return reply

    async def result(self, method: str, *params: Any) -> Any:
        reply = await self.call(method, *params)
        assert "error" not in reply, reply
        return reply["result"]

    async def error_code(self, method: str, *params: Any) -> int:
        reply = await self.call(method, *params)
        assert "error" in reply, reply
        code: int = reply["error"]["code"]
        return code

    async def event(self, kind: str, operation: str | None = None) -> dict[str, Any]:
        """The next event of `kind` (and operation), skipping and keeping the others."""
        while True:
            for index, event in enumerate(self.events):
                if event["event"] == kind and operation in (None, event.get("operationId")):
                    return self.events.pop(index)
            await self._receive()


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def signed_transfer(sender: Keypair, nonce: int, genesis: bytes, value: int = 10**10) -> bytes:
    dest = Keypair.create_from_uri("//Ferdie").public_key
    call = RUNTIME.encode_call(
        "Balances", "transfer_allow_death", {"dest": ("Id", dest), "value": value}
    )
    probe = Extrinsic(b"", call, None, signer=sender.public_key, nonce=nonce)
    signature = sr25519.sign(
        (sender.public_key, sender.private_key), RUNTIME.signing_payload(probe, genesis, genesis)
    )
    extra = b"\x00" + encode_compact(nonce) + encode_compact(0) + b"\x00"
    body = b"\x84\x00" + bytes(sender.public_key) + b"\x01" + bytes(signature) + extra + call
    return encode_compact(len(body)) + body


async def _connect(node: DevNode) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session, session.ws_connect(node.url) as ws:
        yield Client(ws)


@pytest.fixture
async def node() -> AsyncIterator[DevNode]:
    config = DevNodeConfig(
        port=0,
        finality_lag=1,
        chainhead_max_operations=3,
        chainhead_storage_page_items=2,
        chainhead_max_pinned_blocks=16,
        max_broadcasts_per_connection=2,
    )
    async with DevNode(config) as running:
        yield running


@pytest.fixture
async def client(node: DevNode) -> AsyncIterator[Client]:
    async for connected in _connect(node):
        yield connected


async def test_follow_reports_blocks_best_and_finalized_in_order(
    node: DevNode, client: Client
) -> None:
    for _ in range(2):
        await node.produce_block()
    follow = await client.result("chainHead_v1_follow", True)
    initialized = await client.event("initialized")
    chain = node.chain
    assert initialized["finalizedBlockHashes"] == [_hex(chain.blocks[chain.finalized].hash)]
    spec = initialized["finalizedBlockRuntime"]
    assert spec["type"] == "valid" and spec["spec"]["specName"] == "devnode"
    assert spec["spec"]["apis"]["0xd2bc9897eed08f15"] == 3  # Metadata, as the spec's guide checks
    unfinalized = await client.event("newBlock")
    assert unfinalized["blockHash"] == _hex(chain.best.hash)
    assert unfinalized["parentBlockHash"] == initialized["finalizedBlockHashes"][0]
    assert unfinalized["newRuntime"] is None
    assert (await client.event("bestBlockChanged"))["bestBlockHash"] == _hex(chain.best.hash)

    block = await node.produce_block()
    new_block = await client.event("newBlock")
    assert new_block["blockHash"] == _hex(chain.blocks[block].hash)
    assert (await client.event("bestBlockChanged"))["bestBlockHash"] == new_block["blockHash"]
    finalized = await client.event("finalized")
    assert finalized == {
        "event": "finalized",
        "finalizedBlockHashes": [unfinalized["blockHash"]],
        "prunedBlockHashes": [],
    }
    header = await client.result("chainHead_v1_header", follow, new_block["blockHash"])
    assert header == _hex(chain.blocks[block].header.encode())

    await client.result("chainHead_v1_unfollow", follow)
    assert await client.result("chainHead_v1_header", follow, new_block["blockHash"]) is None
    await node.produce_block()
    assert await client.call("chainHead_v1_follow", False)  # a slot is free again


async def test_body_call_and_storage_operations(node: DevNode, client: Client) -> None:
    await node.produce_block()
    follow = await client.result("chainHead_v1_follow", True)
    best = (await client.event("bestBlockChanged"))["bestBlockHash"]
    block = node.chain.best

    started = await client.result("chainHead_v1_body", follow, best)
    assert started["result"] == "started"
    body = await client.event("operationBodyDone", started["operationId"])
    assert body["value"] == [_hex(x) for x in block.extrinsics]

    started = await client.result(
        "chainHead_v1_call", follow, best, "AccountNonceApi_account_nonce", _hex(bytes(32))
    )
    assert (await client.event("operationCallDone", started["operationId"]))[
        "output"
    ] == "0x00000000"
    started = await client.result("chainHead_v1_call", follow, best, "Nope_nope", "0x")
    error = await client.event("operationError", started["operationId"])
    assert "Nope_nope" in error["error"]

    number_key = storage_prefix("System", "Number")
    accounts = storage_prefix("System", "Account")
    started = await client.result(
        "chainHead_v1_storage",
        follow,
        best,
        [
            {"key": _hex(number_key), "type": "value"},
            {"key": _hex(number_key), "type": "hash"},
            {"key": _hex(b"\x00nothing here"), "type": "value"},
        ],
        None,
    )
    assert started["discardedItems"] == 0
    items = (await client.event("operationStorageItems", started["operationId"]))["items"]
    number = node.chain.storage.get(number_key)
    assert number is not None
    assert items == [
        {"key": _hex(number_key), "value": _hex(number)},
        {"key": _hex(number_key), "hash": _hex(blake2_256(number))},
    ]
    await client.event("operationStorageDone", started["operationId"])

    # Six dev accounts, two per page: each page waits for chainHead_v1_continue.
    started = await client.result(
        "chainHead_v1_storage",
        follow,
        best,
        [{"key": _hex(accounts), "type": "descendantsValues"}],
        None,
    )
    operation = started["operationId"]
    keys: list[str] = []
    while True:
        page = await client.event("operationStorageItems", operation)
        assert len(page["items"]) <= 2
        keys += [item["key"] for item in page["items"]]
        if len(keys) == 6:
            break
        await client.event("operationWaitingForContinue", operation)
        # Blocks sealed mid-way do not disturb the pages: they read the pinned block.
        await node.produce_block()
        await client.result("chainHead_v1_continue", follow, operation)
    await client.event("operationStorageDone", operation)
    assert not any(e.get("operationId") == operation for e in client.events)
    assert keys == [_hex(k) for k in node.chain.storage.keys_after(accounts, None, block.number)]
    assert len(keys) == 6
    # A finished operation: continue and stopOperation have no effect.
    assert await client.result("chainHead_v1_continue", follow, operation) is None
    assert await client.result("chainHead_v1_stopOperation", follow, operation) is None

    merkle = await client.result(
        "chainHead_v1_storage",
        follow,
        best,
        [{"key": _hex(accounts), "type": "closestDescendantMerkleValue"}],
        None,
    )
    item = (await client.event("operationStorageItems", merkle["operationId"]))["items"][0]
    assert item["key"] == _hex(accounts) and len(item["closestDescendantMerkleValue"]) == 66


async def test_spec_errors_for_pins_continues_and_runtime_calls(
    node: DevNode, client: Client
) -> None:
    follow = await client.result("chainHead_v1_follow", False)
    initialized = await client.event("initialized")
    assert "finalizedBlockRuntime" not in initialized
    genesis = initialized["finalizedBlockHashes"][0]
    unknown = _hex(b"\x11" * 32)
    assert await client.error_code("chainHead_v1_header", follow, unknown) == -32801
    assert await client.error_code("chainHead_v1_body", follow, unknown) == -32801
    assert (
        await client.error_code("chainHead_v1_call", follow, genesis, "Core_version", "0x")
        == -32802
    )
    assert await client.error_code("chainHead_v1_unpin", follow, [genesis, genesis]) == -32804
    assert await client.error_code("chainHead_v1_unpin", follow, [genesis, unknown]) == -32801
    assert (
        await client.error_code(
            "chainHead_v1_storage", follow, genesis, [{"key": "0x00", "type": "keys"}], None
        )
        == -32602
    )
    # Nothing was unpinned by the failed calls; then unpinning works once.
    assert await client.result("chainHead_v1_header", follow, genesis)
    assert await client.result("chainHead_v1_unpin", follow, genesis) is None
    assert await client.error_code("chainHead_v1_header", follow, genesis) == -32801
    # A stale or unknown subscription: null / limitReached / ignored, as the spec says.
    assert await client.result("chainHead_v1_header", "nope", genesis) is None
    assert (await client.result("chainHead_v1_body", "nope", genesis)) == {"result": "limitReached"}
    assert await client.result("chainHead_v1_unpin", "nope", genesis) is None
    assert await client.result("chainHead_v1_continue", "nope", "1") is None


async def test_operation_limit_discards_items_and_refuses_operations(
    node: DevNode, client: Client
) -> None:
    follow = await client.result("chainHead_v1_follow", True)
    best = (await client.event("bestBlockChanged"))["bestBlockHash"]
    accounts = _hex(storage_prefix("System", "Account"))
    # A paged descendants query holds its slot while it waits for chainHead_v1_continue.
    waiting = await client.result(
        "chainHead_v1_storage", follow, best, [{"key": accounts, "type": "descendantsHashes"}], None
    )
    await client.event("operationWaitingForContinue", waiting["operationId"])
    partly = await client.result(
        "chainHead_v1_storage",
        follow,
        best,
        [{"key": accounts, "type": "descendantsHashes"}] * 3,
        None,
    )
    assert partly["result"] == "started" and partly["discardedItems"] == 1
    await client.event("operationWaitingForContinue", partly["operationId"])
    assert await client.result("chainHead_v1_body", follow, best) == {"result": "limitReached"}
    assert await client.result(
        "chainHead_v1_storage", follow, best, [{"key": accounts, "type": "value"}], None
    ) == {"result": "limitReached"}
    # Stopping an operation frees its slots.
    await client.result("chainHead_v1_stopOperation", follow, waiting["operationId"])
    assert (await client.result("chainHead_v1_body", follow, best))["result"] == "started"


async def test_follow_limit_and_pinned_block_limit() -> None:
    config = DevNodeConfig(port=0, finality_lag=1, chainhead_max_pinned_blocks=3)
    async with DevNode(config) as node:
        async for client in _connect(node):
            follows = [await client.result("chainHead_v1_follow", False) for _ in range(4)]
            assert await client.error_code("chainHead_v1_follow", False) == -32800
            for follow in follows[1:]:
                await client.result("chainHead_v1_unfollow", follow)
            # The client never unpins: past three pinned finalized blocks the follow stops.
            for _ in range(5):
                await node.produce_block()
            await client.event("stop")
            best = _hex(node.chain.best.hash)
            assert await client.result("chainHead_v1_header", follows[0], best) is None
            fresh = await client.result("chainHead_v1_follow", True)
            assert fresh not in follows


async def test_transaction_broadcast_limits_and_inclusion(node: DevNode, client: Client) -> None:
    genesis = bytes(node.chain.genesis_hash)
    alice = Keypair.create_from_uri("//Alice")
    good = signed_transfer(alice, 0, genesis)
    first = await client.result("transaction_v1_broadcast", _hex(good))
    assert isinstance(first, str)
    # An invalid transaction is silently not broadcast, but holds a slot.
    second = await client.result("transaction_v1_broadcast", _hex(b"\x08\x84\x00"))
    assert isinstance(second, str)
    assert await client.result("transaction_v1_broadcast", _hex(good)) is None
    await client.result("transaction_v1_stop", second)
    assert await client.error_code("transaction_v1_stop", second) == -32602
    for _ in range(3):
        if blake2_256(good) not in node.chain.pool:
            break
        await node.produce_block()
    assert any(good in block.extrinsics for block in node.chain.blocks)


async def test_chain_spec_and_rpc_methods(node: DevNode, client: Client) -> None:
    assert await client.result("chainSpec_v1_chainName") == "Development"
    assert await client.result("chainSpec_v1_genesisHash") == _hex(node.chain.genesis_hash)
    assert (await client.result("chainSpec_v1_properties"))["tokenSymbol"] == "UNIT"
    methods = (await client.result("rpc_methods"))["methods"]
    for name in (
        "chainHead_v1_follow",
        "chainHead_v1_unfollow",
        "chainHead_v1_header",
        "chainHead_v1_body",
        "chainHead_v1_storage",
        "chainHead_v1_call",
        "chainHead_v1_unpin",
        "chainHead_v1_continue",
        "chainHead_v1_stopOperation",
        "transaction_v1_broadcast",
        "transaction_v1_stop",
        "chainSpec_v1_chainName",
        "chainSpec_v1_genesisHash",
        "chainSpec_v1_properties",
    ):
        assert name in methods


async def test_validate_transaction_and_view_function_runtime_apis(
    node: DevNode, client: Client
) -> None:
    genesis = bytes(node.chain.genesis_hash)
    alice = Keypair.create_from_uri("//Alice")
    good = signed_transfer(alice, 0, genesis)
    at = _hex(genesis)
    answer = await client.result(
        "state_call",
        "TaggedTransactionQueue_validate_transaction",
        _hex(b"\x02" + good + genesis),
        at,
    )
    verdict = TRANSACTION_VALIDITY.decode_all(bytes.fromhex(answer[2:]))
    assert verdict[0] == "Ok" and verdict[1]["provides"] == [alice.public_key + bytes(4)]
    forged = bytearray(good)
    forged[40] ^= 0xFF  # inside the signature
    answer = await client.result(
        "state_call",
        "TaggedTransactionQueue_validate_transaction",
        _hex(b"\x02" + bytes(forged) + genesis),
        at,
    )
    assert TRANSACTION_VALIDITY.decode_all(bytes.fromhex(answer[2:])) == (
        "Err",
        ("Invalid", ("BadProof", None)),
    )

    registry = node.chain.runtime.by_name["ModelRegistry"]
    count_fn = next(v for v in registry.view_functions if v.name == "model_count")
    answer = await client.result(
        "state_call",
        "RuntimeViewFunction_execute_view_function",
        _hex(count_fn.id("ModelRegistry") + encode_compact(0)),
    )
    assert VIEW_FUNCTION_RESULT.decode_all(bytes.fromhex(answer[2:])) == ("Ok", bytes(4))
    answer = await client.result(
        "state_call",
        "RuntimeViewFunction_execute_view_function",
        _hex(bytes(32) + encode_compact(0)),
    )
    assert VIEW_FUNCTION_RESULT.decode_all(bytes.fromhex(answer[2:]))[1][0] == "NotFound"


async def test_a_pooled_transaction_whose_era_ends_is_dropped_not_included() -> None:
    from runtime_types._signing import Mortality, SigningContext, signed_extrinsic

    async with DevNode(DevNodeConfig(port=0)) as node:
        chain = node.chain
        alice = Keypair.create_from_uri("//Alice")
        bob = Keypair.create_from_uri("//Bob")
        ctx = SigningContext(
            tuple(name for name, _, _ in chain.runtime.signed_extensions),
            bytes(chain.genesis_hash),
            chain.runtime.version.spec_version,
            chain.runtime.version.transaction_version,
        )
        remark = chain.runtime.encode_call("System", "remark", {"remark": b"late"})
        # Nonce 1 waits in the pool for nonce 0; its era (4 blocks from genesis) ends meanwhile.
        waiting = signed_extrinsic(
            remark, alice, 1, ctx, Mortality(4, 0, bytes(chain.genesis_hash))
        )
        statuses: list[Any] = []
        chain.submit(waiting, statuses.append)
        assert statuses == ["future"]
        for nonce in range(5):  # Bob's transfers move the chain on
            chain.submit(signed_transfer(bob, nonce, bytes(chain.genesis_hash)))
            await node.produce_block()
        chain.submit(signed_transfer(alice, 0, bytes(chain.genesis_hash)))
        await node.produce_block()
        await node.produce_block()
        assert statuses[-1] == "invalid"
        assert blake2_256(waiting) not in chain.pool
        assert not any(waiting in block.extrinsics for block in chain.blocks)
        assert chain.account_nonce(alice.public_key) == 1
