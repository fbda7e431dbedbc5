"""devnode's JSON-RPC surface spoken directly: errors, history, paging, runtime calls, transports."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from devnode import RUNTIME, DevNode, DevNodeConfig
from devnode._hashing import storage_prefix
from tests.waiting import until


@pytest.fixture
async def live_node() -> AsyncIterator[DevNode]:
    async with DevNode(DevNodeConfig(port=0, max_request_bytes=64 * 1024)) as node:
        yield node


class Rpc:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.notifications: list[dict[str, Any]] = []

    async def send_raw(self, text: str) -> Any:
        await self.ws.send_str(text)
        return await self.receive_reply()

    async def receive_reply(self) -> Any:
        while True:
            message = json.loads((await self.ws.receive(timeout=10)).data)
            if isinstance(message, dict) and "method" in message and "id" not in message:
                self.notifications.append(message)
                continue
            return message

    async def call(self, method: str, *params: Any) -> Any:
        self.next_id += 1
        return await self.send_raw(
            json.dumps(
                {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": list(params)}
            )
        )

    async def result(self, method: str, *params: Any) -> Any:
        reply = await self.call(method, *params)
        assert "error" not in reply, reply
        return reply["result"]

    async def notification(self) -> dict[str, Any]:
        if self.notifications:
            return self.notifications.pop(0)
        message = json.loads((await self.ws.receive(timeout=10)).data)
        return message


@pytest.fixture
async def rpc(live_node: DevNode) -> AsyncIterator[Rpc]:
    async with aiohttp.ClientSession() as session, session.ws_connect(live_node.url) as ws:
        yield Rpc(ws)


async def test_errors_for_unknown_method_bad_params_and_garbage(rpc: Rpc) -> None:
    assert (await rpc.call("no_such_method"))["error"]["code"] == -32601
    bad_hex = await rpc.call("state_getStorage", "0xzz")
    assert bad_hex["error"]["code"] == -32602
    not_hex = await rpc.call("chain_getBlockHash", "seven")
    assert not_hex["error"]["code"] == -32602
    parse = await rpc.send_raw("{not json")
    assert parse["error"]["code"] == -32700
    invalid = await rpc.send_raw(json.dumps({"jsonrpc": "2.0", "id": 1}))
    assert invalid["error"]["code"] == -32600
    malformed_extrinsic = await rpc.call("author_submitExtrinsic", "0x0c840102")
    assert malformed_extrinsic["error"]["code"] == 1001
    unknown_block = await rpc.call("state_getStorage", "0x00", "0x" + "11" * 32)
    assert unknown_block["error"]["code"] == 4003
    # The connection still works after every one of those.
    assert await rpc.result("system_chain") == "Development"


async def test_batch_requests(rpc: Rpc) -> None:
    replies = await rpc.send_raw(
        json.dumps(
            [
                {"jsonrpc": "2.0", "id": 1, "method": "system_name", "params": []},
                {"jsonrpc": "2.0", "id": 2, "method": "nope", "params": []},
            ]
        )
    )
    assert [r["id"] for r in replies] == [1, 2]
    assert replies[0]["result"] == "devnode"
    assert replies[1]["error"]["code"] == -32601


async def test_rpc_methods_lists_the_required_api(rpc: Rpc) -> None:
    methods = set((await rpc.result("rpc_methods"))["methods"])
    required = {
        "system_chain", "system_name", "system_version", "system_properties", "system_health",
        "system_accountNextIndex", "chain_getBlockHash", "chain_getHeader", "chain_getBlock",
        "chain_getHead", "chain_getFinalizedHead", "chain_getRuntimeVersion", "chain_subscribeNewHeads",
        "chain_subscribeNewHead", "chain_subscribeFinalizedHeads", "chain_unsubscribeNewHeads",
        "chain_unsubscribeFinalizedHeads", "state_getMetadata", "state_getRuntimeVersion",
        "state_getStorage", "state_getStorageAt", "state_getKeysPaged", "state_queryStorageAt",
        "state_subscribeStorage", "state_subscribeRuntimeVersion", "state_call", "author_submitExtrinsic",
        "author_submitAndWatchExtrinsic", "author_unwatchExtrinsic", "payment_queryInfo",
    }  # fmt: skip
    assert required <= methods


async def test_keys_paged_are_strictly_after_start_key_and_history_is_kept(
    live_node: DevNode, rpc: Rpc
) -> None:
    prefix = "0x" + storage_prefix("System", "Account").hex()
    keys = await rpc.result("state_getKeysPaged", prefix, 10)
    assert len(keys) == 6 and keys == sorted(keys)
    after = await rpc.result("state_getKeysPaged", prefix, 10, keys[2])
    assert after == keys[3:]
    assert await rpc.result("state_getKeysPaged", prefix, 2, keys[0]) == keys[1:3]

    genesis = await rpc.result("chain_getBlockHash", 0)
    number_key = "0x" + storage_prefix("System", "Number").hex()
    await live_node.produce_block()
    await live_node.produce_block()
    assert await rpc.result("state_getStorage", number_key) == "0x02000000"
    assert await rpc.result("state_getStorageAt", number_key, genesis) == "0x00000000"
    first = await rpc.result("chain_getBlockHash", 1)
    changes = await rpc.result("state_queryStorageAt", [number_key], first)
    assert changes == [{"block": first, "changes": [[number_key, "0x01000000"]]}]
    header = await rpc.result("chain_getHeader", first)
    assert header["parentHash"] == genesis and header["number"] == "0x1"
    block = await rpc.result("chain_getBlock", first)
    assert len(block["block"]["extrinsics"]) == 1  # the timestamp inherent
    assert await rpc.result("chain_getBlockHash", 99) is None
    assert await rpc.result("chain_getHeader", "0x" + "22" * 32) is None


async def test_block_hash_is_blake2_of_the_scale_header(live_node: DevNode, rpc: Rpc) -> None:
    await live_node.produce_block()
    block = live_node.chain.blocks[1]
    from devnode._hashing import blake2_256

    assert (
        await rpc.result("chain_getBlockHash", 1) == "0x" + blake2_256(block.header.encode()).hex()
    )


async def test_state_call_runtime_apis(rpc: Rpc) -> None:
    versions = await rpc.result("state_call", "Metadata_metadata_versions", "0x")
    assert versions == "0x0c0e0000000f00000010000000"  # Vec<u32> [14, 15, 16]
    at_14 = await rpc.result("state_call", "Metadata_metadata_at_version", "0x0e000000")
    metadata = await rpc.result("state_getMetadata")
    assert at_14.startswith("0x01")  # Some(...)
    assert metadata[2:] in at_14
    for version in (15, 16):
        at_version = await rpc.result(
            "state_call", "Metadata_metadata_at_version", "0x" + version.to_bytes(4, "little").hex()
        )
        assert at_version.startswith("0x01") and bytes.fromhex(at_version[2:])[5:10] == (
            b"meta" + bytes([version])
        )
    assert await rpc.result("state_call", "Metadata_metadata_at_version", "0x11000000") == "0x00"
    alice = "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"
    assert (
        await rpc.result("state_call", "AccountNonceApi_account_nonce", "0x" + alice)
        == "0x00000000"
    )
    missing = await rpc.call("state_call", "Nope_nope", "0x")
    assert missing["error"]["code"] == 4003
    truncated = await rpc.call("state_call", "AccountNonceApi_account_nonce", "0x00")
    assert truncated["error"]["code"] == 4003


async def test_metadata_is_v14_and_lists_every_declared_call(rpc: Rpc) -> None:
    from scalecodec.base import RuntimeConfigurationObject, ScaleBytes
    from scalecodec.type_registry import load_type_registry_preset

    metadata_hex = await rpc.result("state_getMetadata")
    config = RuntimeConfigurationObject()
    config.update_type_registry(load_type_registry_preset("core"))
    decoded = config.create_scale_object("MetadataVersioned", data=ScaleBytes(metadata_hex))
    decoded.decode()
    v14 = decoded.value[1]["V14"]
    pallets = {p["name"]: p for p in v14["pallets"]}
    types = {t["id"]: t["type"] for t in v14["types"]["types"]}
    for pallet in RUNTIME.pallets:
        assert pallets[pallet.name]["index"] == pallet.index
        if pallet.calls:
            variants = types[pallets[pallet.name]["calls"]["ty"]]["def"]["variant"]["variants"]
            declared = {
                (s.name, s.index, tuple(f.name for f in s.args)) for s in pallet.calls.values()
            }
            in_metadata = {
                (v["name"], v["index"], tuple(f["name"] for f in v["fields"])) for v in variants
            }
            assert declared == in_metadata
        storage = {
            e["name"] for e in (pallets[pallet.name]["storage"] or {"entries": []})["entries"]
        }
        assert storage == set(pallet.storage)
    extensions = [e["identifier"] for e in v14["extrinsic"]["signed_extensions"]]
    assert extensions == [
        "CheckNonZeroSender", "CheckSpecVersion", "CheckTxVersion", "CheckGenesis", "CheckMortality",
        "CheckNonce", "CheckWeight", "ChargeTransactionPayment", "CheckMetadataHash",
    ]  # fmt: skip


async def test_storage_and_runtime_version_subscriptions(live_node: DevNode, rpc: Rpc) -> None:
    number_key = "0x" + storage_prefix("System", "Number").hex()
    subscription = await rpc.result("state_subscribeStorage", [number_key])
    initial = await rpc.notification()
    assert initial["method"] == "state_storage"
    assert initial["params"]["subscription"] == subscription
    assert initial["params"]["result"]["changes"] == [[number_key, "0x00000000"]]
    await live_node.produce_block()
    update = await rpc.notification()
    assert update["params"]["result"]["changes"] == [[number_key, "0x01000000"]]
    assert await rpc.result("state_unsubscribeStorage", subscription) is True
    assert await rpc.result("state_unsubscribeStorage", subscription) is False

    version_sub = await rpc.result("state_subscribeRuntimeVersion")
    version = await rpc.notification()
    assert version["method"] == "state_runtimeVersion"
    assert version["params"]["subscription"] == version_sub
    assert version["params"]["result"]["specName"] == "devnode"


async def test_oversized_frame_closes_only_that_connection(live_node: DevNode, rpc: Rpc) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(live_node.url) as ws:
        await ws.send_str(
            json.dumps(
                {"jsonrpc": "2.0", "id": 1, "method": "system_name", "params": ["x" * 100_000]}
            )
        )
        closing = await ws.receive(timeout=10)
        assert closing.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.CLOSING,
        )
        assert ws.close_code == 1009
    assert await rpc.result("system_name") == "devnode"


async def test_client_disconnecting_mid_subscription_leaves_node_serving(
    live_node: DevNode, rpc: Rpc
) -> None:
    for _ in range(3):
        async with aiohttp.ClientSession() as session, session.ws_connect(live_node.url) as ws:
            await ws.send_str(
                json.dumps(
                    {"jsonrpc": "2.0", "id": 1, "method": "chain_subscribeNewHeads", "params": []}
                )
            )
            await ws.receive(timeout=10)
        # The socket is gone; producing blocks must not fail on its subscription.
        await live_node.produce_block()
    # The node drops each closed socket's subscription when its handler sees the close.
    await until(lambda: live_node.chain.new_head_listeners == set(), 10, "subscriptions dropped")
    subscription = await rpc.result("chain_subscribeNewHeads")
    first = await rpc.notification()
    assert first["method"] == "chain_newHead" and first["params"]["subscription"] == subscription
    assert int(first["params"]["result"]["number"], 16) == 3


async def test_http_post_transport(live_node: DevNode) -> None:
    async with aiohttp.ClientSession() as session:
        body = {"jsonrpc": "2.0", "id": 7, "method": "system_properties", "params": []}
        async with session.post(live_node.http_url, json=body) as response:
            reply = await response.json()
        assert reply == {
            "jsonrpc": "2.0",
            "id": 7,
            "result": {"ss58Format": 42, "tokenDecimals": 12, "tokenSymbol": "UNIT"},
        }
        subscribe = {"jsonrpc": "2.0", "id": 8, "method": "chain_subscribeNewHeads", "params": []}
        async with session.post(live_node.http_url, json=subscribe) as response:
            assert (await response.json())["error"]["code"] == -32000
        async with session.post(live_node.http_url, data="x" * 100_000) as response:
            assert response.status == 413
