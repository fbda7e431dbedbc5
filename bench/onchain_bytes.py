"""Bytes one inference puts on-chain, against the ~102 KB the second design document measured.

Encodes the real extrinsics (signed v4, sr25519, mortal era) of `Inference.request` (input by
CID), `Inference.submit_result` (hashes and counts only) and `Inference.submit_validation` (when
a validator is drawn) for 1,000 prompt / 150 completion tokens and for ten times those counts.

`--chain runtime` also measures them on the Rust runtime (its wasm on chopsticks, started with
`devstack.LocalRuntimeNode`, a block per transaction; needs `make chain-build`): a model, two
providers at reputation 0 (so every result is sampled for validation), and for each token count
one request, its result and the drawn validator's verdict, each extrinsic read back from the
block that included it. `--chain both` does the same on devnode (in this process) in the same
run and prints runtime / devnode. `--chain devnode` (the default) prints the encoded figures
only, as before.

    .venv/bin/python bench/onchain_bytes.py [--chain devnode|runtime|both]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devnode.pallets._sizes import (  # noqa: E402
    SEED_BYTES_PER_INFERENCE,
    InferenceBytes,
    inference_extrinsic_bytes,
)

COUNTS = ((1_000, 150), (10_000, 1_500))
#: a CIDv0, as the encoded figures use
SAMPLE_CID = b"QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
HEADER = (
    f"{'tokens (prompt/completion)':>28} {'request':>8} {'result':>7} {'validation':>10} "
    f"{'total':>6} {'vs seed':>9}"
)


def row(prompt: int, completion: int, sizes: InferenceBytes) -> str:
    ratio = SEED_BYTES_PER_INFERENCE / sizes.with_validation
    return (
        f"{f'{prompt:,}/{completion:,}':>28} {sizes.request:>8} {sizes.result:>7} "
        f"{sizes.validation:>10} {sizes.with_validation:>6} {ratio:>8.0f}x"
    )


@asynccontextmanager
async def chain_url(kind: str) -> AsyncIterator[str]:
    """A fresh chain of `kind` with the dev genesis; yields its WebSocket URL."""
    if kind == "devnode":
        from devnode import DevNode, DevNodeConfig

        async with DevNode(DevNodeConfig(port=0)) as node:
            yield node.url
        return
    from devstack import LocalRuntimeNode

    runtime = await asyncio.to_thread(LocalRuntimeNode.start)
    try:
        yield runtime.url
    finally:
        await asyncio.to_thread(runtime.stop)


async def measure(kind: str) -> dict[tuple[int, int], InferenceBytes]:
    """The three extrinsics per token count, as included in `kind`'s blocks."""
    from runtime_types import ChainClient, ClientConfig, Receipt
    from runtime_types.generated.devnode import BINDINGS, inference, types
    from tests.ocw_daemon.helpers import (
        BOB,
        CHARLIE,
        DAVE,
        PRICE,
        ok,
        register_model,
        register_provider,
        set_reputation,
    )

    providers = {bytes(k.public_key): k for k in (BOB, CHARLIE)}

    async def included(client: ChainClient, receipt: Receipt, name: str) -> int:
        block = await client.block(receipt.block_number)
        assert block is not None
        ext = block.extrinsics[receipt.extrinsic_index]
        call = BINDINGS.decode_extrinsic(ext).call
        assert (call.pallet, call.name) == (inference.calls.PALLET, name), call
        return len(ext)

    async def state(client: ChainClient, rid: int) -> types.InferenceRequest:
        info = await client.query(inference.storage.requests(rid))
        assert info is not None
        return info

    found: dict[tuple[int, int], InferenceBytes] = {}
    async with (
        chain_url(kind) as url,
        ChainClient(BINDINGS, ClientConfig(url, poll_interval=0.01)) as c,
    ):
        model_id = await register_model(c, SAMPLE_CID.decode())
        for port, who in enumerate(providers.values(), 9100):
            await register_provider(c, who, f"http://127.0.0.1:{port}", [model_id])
        for prompt, completion in COUNTS:
            for who in providers.values():  # reputation 0: the result is always sampled
                await set_reputation(c, who, 0)
            placed = await ok(
                c,
                inference.calls.request(
                    types.H256(model_id),
                    types.InferenceInputCid(SAMPLE_CID),
                    prompt,
                    completion,
                    PRICE,
                    20,
                ),
                DAVE,
            )
            rid = next(
                int(e.event.request_id)
                for e in placed.events
                if isinstance(e.event, inference.events.InferenceRequested)
            )
            executor = providers[bytes((await state(c, rid)).executor.value)]
            output_hash = types.H256(hashlib.blake2b(b"output", digest_size=32).digest())
            result = await ok(
                c,
                inference.calls.submit_result(rid, output_hash, SAMPLE_CID, prompt, completion),
                executor,
            )
            drawn = (await state(c, rid)).state
            assert isinstance(drawn, types.RequestStateAwaitingValidation), drawn
            verdict = await ok(
                c,
                inference.calls.submit_validation(rid, True),
                providers[bytes(drawn.validator.value)],
            )
            final = (await state(c, rid)).state
            assert type(final).__variant_name__ == "Completed", final
            found[(prompt, completion)] = InferenceBytes(
                await included(c, placed, "request"),
                await included(c, result, "submit_result"),
                await included(c, verdict, "submit_validation"),
            )
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--chain",
        choices=("devnode", "runtime", "both"),
        default="devnode",
        help="devnode: the encoded figures (default); runtime/both: also read back from blocks",
    )
    chain = parser.parse_args().chain
    print(HEADER)
    for prompt, completion in COUNTS:
        print(row(prompt, completion, inference_extrinsic_bytes(prompt, completion)))
    print(f"seed document: ~{SEED_BYTES_PER_INFERENCE:,} bytes per inference (payloads on-chain)")
    small, large = (inference_extrinsic_bytes(p, c) for p, c in COUNTS)
    print(
        "size grows with token counts:",
        "yes" if large.with_validation > small.with_validation else "no",
    )
    if chain == "devnode":
        return 0
    kinds = ("devnode", "runtime") if chain == "both" else ("runtime",)
    measured = {kind: asyncio.run(measure(kind)) for kind in kinds}
    for kind in kinds:
        print(f"\nread back from {kind}'s blocks (fresh chain: signers' nonces below 64)")
        print(HEADER)
        for (prompt, completion), sizes in measured[kind].items():
            print(row(prompt, completion, sizes))
        small, large = (measured[kind][counts] for counts in COUNTS)
        grows = "yes" if large.with_validation > small.with_validation else "no"
        print(f"size grows with token counts on {kind}: {grows}")
    if chain == "both":
        print(f"\n{'runtime / devnode':>28} {'request':>8} {'result':>7} {'validation':>10} {'total':>6}")  # fmt: skip
        for counts in COUNTS:
            d, r = measured["devnode"][counts], measured["runtime"][counts]
            print(
                f"{f'{counts[0]:,}/{counts[1]:,}':>28} {r.request / d.request:>7.2f}x "
                f"{r.result / d.result:>6.2f}x {r.validation / d.validation:>9.2f}x "
                f"{r.with_validation / d.with_validation:>5.2f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
