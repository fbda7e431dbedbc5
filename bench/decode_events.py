"""Events decoded per second: the typed bindings vs plain substrate-interface, same blocks, same run.

Starts a devnode in-process, fills blocks with transfers, then decodes `System.Events` of the same
blocks two ways, both from the same raw bytes (decode only) and end to end over WebSocket:
- typed: `runtime_types` generated bindings (`Bindings.decode_events`, `ChainClient.block`)
- plain: substrate-interface (scalecodec `Vec<EventRecord>`, `SubstrateInterface.get_events`)
"""

from __future__ import annotations

import asyncio
import time

from scalecodec.base import ScaleBytes
from substrateinterface import Keypair, SubstrateInterface

from devnode import DevNode, DevNodeConfig
from runtime_types import ChainClient, ClientConfig
from runtime_types.generated import devnode as rt

TRANSFERS = 400


async def main() -> None:
    alice, bob = Keypair.create_from_uri("//Alice"), Keypair.create_from_uri("//Bob")
    async with DevNode(DevNodeConfig(port=0)) as node:
        async with ChainClient(rt.BINDINGS, ClientConfig(node.url)) as client:
            dest = rt.types.MultiAddressId(rt.types.AccountId32(bob.public_key))
            await asyncio.gather(
                *(
                    client.submit(rt.balances.calls.transfer_keep_alive(dest, 10**12 + i), alice)
                    for i in range(TRANSFERS)
                )
            )
            best = await client.head_number()
            numbers = list(range(1, best + 1))
            started = time.perf_counter()
            blocks = [await client.block(n) for n in numbers]
            typed_e2e = time.perf_counter() - started
        hashes = [b.hash for b in blocks if b is not None]
        total = sum(len(b.events) for b in blocks if b is not None)

        def plain() -> tuple[float, float, int, list[bytes]]:
            substrate = SubstrateInterface(url=node.url)
            substrate.init_runtime()
            entry = rt.system.storage.events()
            key = "0x" + rt.BINDINGS.storage_key(entry).hex()
            events_type = entry.value_type
            raws = [
                bytes.fromhex(substrate.rpc_request("state_getStorage", [key, h])["result"][2:])
                for h in hashes
            ]
            begin = time.perf_counter()
            count = sum(len(substrate.get_events(h)) for h in hashes)
            e2e = time.perf_counter() - begin
            begin = time.perf_counter()
            for raw in raws:
                obj = substrate.runtime_config.create_scale_object(
                    f"scale_info::{events_type}", data=ScaleBytes(raw), metadata=substrate.metadata
                )
                obj.decode()
            decode = time.perf_counter() - begin
            substrate.close()
            return e2e, decode, count, raws

        plain_e2e, plain_decode, plain_count, raws = await asyncio.to_thread(plain)
    assert plain_count == total, (plain_count, total)
    started = time.perf_counter()
    typed_count = sum(len(rt.BINDINGS.decode_events(raw)) for raw in raws)
    typed_decode = time.perf_counter() - started
    assert typed_count == total
    print(f"{len(hashes)} blocks, {total} events")
    print(
        f"decode only   typed: {total / typed_decode:10.0f} events/s   plain: {total / plain_decode:10.0f} events/s"
    )
    print(
        f"end to end    typed: {total / typed_e2e:10.0f} events/s   plain: {total / plain_e2e:10.0f} events/s"
    )


if __name__ == "__main__":
    asyncio.run(main())
