"""`make demo`: start devnode, watch it produce blocks, and make a transfer with an unmodified client.

The protocol (model registry, inference requests, providers) joins this demo as it lands.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from ._config import DevNodeConfig
from ._node import DevNode

UNIT = 10**12


def _client_session(url: str, blocks_to_watch: int) -> None:
    from substrateinterface import Keypair, SubstrateInterface

    substrate = SubstrateInterface(url=url)
    print(
        f"connected with substrate-interface: chain {substrate.chain!r}, runtime {substrate.runtime_version},"
    )
    print(
        f"  token {substrate.token_symbol} ({substrate.token_decimals} decimals), SS58 prefix {substrate.ss58_format}"
    )

    seen: list[int] = []

    def on_header(header: Any, update_nr: int, subscription_id: str) -> Any:
        number = header["header"]["number"]
        seen.append(number)
        print(f"  block #{number} {header['header']['parentHash'][:18]}... -> new head")
        if len(seen) >= blocks_to_watch:
            return number
        return None

    print(f"watching {blocks_to_watch} new blocks:")
    substrate.subscribe_block_headers(on_header)

    alice = Keypair.create_from_uri("//Alice")
    bob = Keypair.create_from_uri("//Bob")

    def free(who: Keypair) -> int:
        return int(substrate.query("System", "Account", [who.ss58_address]).value["data"]["free"])

    before_alice, before_bob = free(alice), free(bob)
    call = substrate.compose_call(
        "Balances", "transfer_keep_alive", {"dest": bob.ss58_address, "value": 5 * UNIT}
    )
    fee = substrate.get_payment_info(call, alice)["partialFee"]
    print(f"Alice sends Bob 5 {substrate.token_symbol} (estimated fee {fee / UNIT:.6f})")
    receipt = substrate.submit_extrinsic(
        substrate.create_signed_extrinsic(call, alice), wait_for_finalization=True
    )
    print(f"  finalized in block {receipt.block_hash[:18]}..., success={receipt.is_success}")
    print(f"  fee paid {receipt.total_fee_amount / UNIT:.6f}; events:")
    for event in receipt.triggered_events:
        print(f"    {event.value['module_id']}.{event.value['event_id']}")
    after_alice, after_bob = free(alice), free(bob)
    print(f"  Alice {before_alice / UNIT:,.6f} -> {after_alice / UNIT:,.6f}")
    print(f"  Bob   {before_bob / UNIT:,.6f} -> {after_bob / UNIT:,.6f}")
    if (
        after_bob - before_bob != 5 * UNIT
        or before_alice - after_alice != 5 * UNIT + receipt.total_fee_amount
    ):
        raise SystemExit("demo: balances do not add up")
    substrate.close()


async def run(block_time: float = 1.0, blocks_to_watch: int = 3) -> None:
    config = DevNodeConfig(port=0, block_time=block_time, finality_lag=1)
    async with DevNode(config) as node:
        print(f"devnode serving {node.url}: a block every {block_time}s, finality one block behind")
        await asyncio.to_thread(_client_session, node.url, blocks_to_watch)
        print(f"done at block #{node.chain.best_number} (finalized #{node.chain.finalized})")


def main() -> int:
    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
