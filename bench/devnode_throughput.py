"""Signed transfers per second devnode accepts and includes, next to the sr25519 bound.

Every transfer's signature must be verified once, so the sr25519 verifications per second this
machine manages (measured first, in the same run) bound what the node can accept. The node runs
in its own process, as it would in use; the client pipelines pre-signed transfers over one
WebSocket and waits until every sender's on-chain nonce shows them included.

    .venv/bin/python bench/devnode_throughput.py [--transfers 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time

import aiohttp
import sr25519
from substrateinterface import Keypair

from devnode import DEV_ACCOUNTS, RUNTIME
from devnode._runtime import Extrinsic
from devnode._scale import encode_compact


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sign_transfers(count: int, genesis: bytes) -> tuple[list[str], dict[bytes, int]]:
    senders = [Keypair.create_from_uri(f"//{name}") for name in DEV_ACCOUNTS]
    dest = Keypair.create_from_uri("//Ferdie").public_key
    call = RUNTIME.encode_call(
        "Balances", "transfer_allow_death", {"dest": ("Id", dest), "value": 10**10}
    )
    extrinsics, per_sender = [], {s.public_key: 0 for s in senders}
    for index in range(count):
        sender = senders[index % len(senders)]
        nonce = per_sender[sender.public_key]
        per_sender[sender.public_key] += 1
        extra = b"\x00" + encode_compact(nonce) + encode_compact(0) + b"\x00"
        probe = Extrinsic(b"", call, None, signer=sender.public_key, nonce=nonce)
        signature = sr25519.sign(
            (sender.public_key, sender.private_key),
            RUNTIME.signing_payload(probe, genesis, genesis),
        )
        body = b"\x84\x00" + sender.public_key + b"\x01" + signature + extra + call
        extrinsics.append("0x" + (encode_compact(len(body)) + body).hex())
    return extrinsics, per_sender


def verification_bound(samples: int = 3000) -> float:
    keypair = Keypair.create_from_uri("//Alice")
    messages = [os.urandom(150) for _ in range(samples)]
    signed = [(sr25519.sign((keypair.public_key, keypair.private_key), m), m) for m in messages]
    start = time.perf_counter()
    for signature, message in signed:
        assert sr25519.verify(signature, message, keypair.public_key)
    return samples / (time.perf_counter() - start)


async def rpc(ws: aiohttp.ClientWebSocketResponse, method: str, *params: object) -> object:
    await ws.send_str(
        json.dumps({"jsonrpc": "2.0", "id": 0, "method": method, "params": list(params)})
    )
    reply = json.loads((await ws.receive()).data)
    if "error" in reply:
        raise RuntimeError(reply["error"])
    return reply["result"]


async def run(transfers: int, url: str) -> tuple[float, float]:
    async with aiohttp.ClientSession() as session, session.ws_connect(url, max_msg_size=0) as ws:
        genesis = bytes.fromhex(str(await rpc(ws, "chain_getBlockHash", 0))[2:])
        extrinsics, expected = sign_transfers(transfers, genesis)
        start = time.perf_counter()

        async def send_all() -> None:
            for index, extrinsic in enumerate(extrinsics):
                await ws.send_str(
                    json.dumps(
                        {
                            "jsonrpc": "2.0",
                            "id": index + 1,
                            "method": "author_submitExtrinsic",
                            "params": [extrinsic],
                        }
                    )
                )

        sender = asyncio.create_task(send_all())
        answered = 0
        while answered < transfers:
            reply = json.loads((await ws.receive()).data)
            if "error" in reply:
                raise RuntimeError(f"transfer rejected: {reply['error']}")
            answered += 1
        await sender
        accepted_at = time.perf_counter() - start
        while True:
            nonces = [
                int.from_bytes(
                    bytes.fromhex(
                        str(
                            await rpc(
                                ws, "state_call", "AccountNonceApi_account_nonce", "0x" + who.hex()
                            )
                        )[2:]
                    ),
                    "little",
                )
                for who in expected
            ]
            if nonces == list(expected.values()):
                break
            await asyncio.sleep(0.01)
        included_at = time.perf_counter() - start
    return transfers / accepted_at, transfers / included_at


def cost_breakdown(transfers: int) -> tuple[float, float]:
    """Microseconds per transfer in-process: pool admission (decode, signature, checks) and
    block execution, without the RPC layer; where the time per transfer goes."""
    from devnode import Chain, DevNodeConfig

    chain = Chain(DevNodeConfig())
    chain.open()
    raws = [bytes.fromhex(e[2:]) for e in sign_transfers(transfers, bytes(chain.genesis_hash))[0]]
    start = time.perf_counter()
    for raw in raws:
        chain.submit(raw)
    admitted = time.perf_counter()
    while chain.has_ready():
        chain.produce_block()
    executed = time.perf_counter()
    assert chain.pool.by_hash == {}, "every transfer must be included"
    return (admitted - start) / transfers * 1e6, (executed - admitted) / transfers * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--transfers", type=int, default=3000)
    args = parser.parse_args()

    bound = verification_bound()
    port = free_port()
    node = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devnode",
            "--dev",
            "--rpc-port",
            str(port),
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert node.stdout is not None
        node.stdout.readline()  # "devnode: serving ..."
        accepted, included = asyncio.run(run(args.transfers, f"ws://127.0.0.1:{port}"))
    finally:
        node.terminate()
        node.wait(timeout=10)
    print(f"sr25519 verifications/s (bound):  {bound:10.0f}")
    print(
        f"signed transfers accepted/s:      {accepted:10.0f}  ({accepted / bound:.2f} of the bound)"
    )
    print(
        f"signed transfers included/s:      {included:10.0f}  ({included / bound:.2f} of the bound)"
    )
    print(
        f"({args.transfers} transfers from {len(DEV_ACCOUNTS)} accounts, one WebSocket, instant sealing)"
    )
    admission, execution = cost_breakdown(args.transfers)
    print(
        f"in-process, per transfer: admission {admission:.0f} us "
        f"(of which sr25519 verification {1e6 / bound:.0f} us), block execution {execution:.0f} us"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
