"""Helpers of the client tests: a real chain (devnode with blocks every 0.1 s, or the Rust runtime), the suite's Kubo, a tiny
model on IPFS registered on-chain, //Bob registered as its provider, and a stand-in executor.

The client's honest paths run against the real compute-provider daemon (`ocw_daemon.Daemon` as
//Bob: the `daemon` fixture). The stand-in is only for executors that misbehave, which the real
daemon never does: it stays silent, tampers with the bytes it serves, withholds them, or has no
HTTP copy (output by IPFS only). It follows blocks through the runtime_types client, runs the
real inference_engine on the tiny model for requests assigned to it, serves the output at
`GET /outputs/{id}` to the requester only (signature checked with `verify_output_request`),
then submits `submit_result`. Its inline prompts are looked up by `input_hash` among the prompts
the test announced (the daemon decodes the extrinsic).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aiohttp import web
from substrateinterface import Keypair

import inference_engine as ie
from devstack import LocalKubo
from inference_client import InferenceClientConfig, verify_output_request
from ipfs_store import IpfsStore, StoreConfig
from runtime_types import ChainClient, ClientConfig
from runtime_types.generated import devnode as rt

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.chains import ChainKind, ChainUnderTest, running_chain  # noqa: E402

UNIT = 10**12
PRICE = 2 * 10**9  # per 1,000 tokens, in USDD
CURRENCY = 2
AUTHOR_SHARE = 250_000
ALICE = Keypair.create_from_uri("//Alice")  # requester
BOB = Keypair.create_from_uri("//Bob")  # executor (the stand-in)
CHARLIE = Keypair.create_from_uri("//Charlie")  # model author


def _engine_conftest() -> ModuleType:
    """tests/inference_engine/conftest.py (not a package) for its tiny-model builder."""
    path = ROOT / "tests" / "inference_engine" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_client_tests_engine_models", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def blake2_256(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def account(pair: Keypair) -> rt.types.AccountId32:
    return rt.types.AccountId32(pair.public_key)


@dataclass
class Env:
    node: ChainUnderTest
    kubo: LocalKubo
    model_dir: Path
    model_id: str
    model: ie.LoadedModel
    port: int

    def config(self, **overrides: Any) -> InferenceClientConfig:
        values: dict[str, Any] = {
            "chain_url": self.node.url,
            "ipfs_api_url": self.kubo.api_url,
            "deadline_blocks": 30,
            "wait_timeout_s": 60.0,
            "http_timeout_s": 5.0,
            "fetch_attempts": 2,
            "fetch_backoff_s": 0.05,
        }
        values.update(overrides)
        return InferenceClientConfig(**values)


async def _register(env_url: str, kubo: LocalKubo, model_dir: Path, size: int, port: int) -> str:
    """Add the model to Kubo (the daemon fetches it by CID), register it and //Bob."""
    async with IpfsStore(StoreConfig(api_url=kubo.api_url)) as store:
        cid = str((await store.add(model_dir)).cid)
    async with ChainClient(rt.BINDINGS, ClientConfig(env_url)) as chain:
        receipt = await chain.submit(
            rt.model_registry.calls.register_model(
                cid.encode(),
                b"tiny-llama",
                rt.types.ModelTaskTextGeneration(),
                rt.types.WeightFormatSafetensors(),
                size,
                PRICE,
                CURRENCY,
                rt.types.Permill(AUTHOR_SHARE),
            ),
            CHARLIE,
        )
        receipt.raise_for_error()
        event = next(
            e.event
            for e in receipt.events
            if isinstance(e.event, rt.model_registry.events.ModelRegistered)
        )
        model_id = event.model_id
        receipt = await chain.submit(
            rt.providers.calls.register_provider(
                100 * UNIT, f"http://127.0.0.1:{port}".encode(), [model_id], 16, None
            ),
            BOB,
        )
        receipt.raise_for_error()
        return "0x" + bytes(model_id.value).hex()


@dataclass
class StandInExecutor:
    """See the module docstring. `behaviour[prompt]`: "serve" (default), "silent" (never
    answers: the request expires), "tamper" (serves changed bytes), "ipfs" (publishes the
    output by CID and has no HTTP copy), "tamper+ipfs" (both), "withhold" (reports the result
    but serves nothing)."""

    env: Env
    prompts: dict[bytes, str] = field(default_factory=dict)
    behaviour: dict[str, str] = field(default_factory=dict)
    outputs: dict[int, bytes] = field(default_factory=dict)
    requesters: dict[int, str] = field(default_factory=dict)
    served: list[tuple[int, str, int]] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    #: Set once the block stream delivers its first block: requests placed after it are seen.
    following: asyncio.Event = field(default_factory=asyncio.Event)

    def expect(self, prompt: str, behaviour: str = "serve") -> None:
        self.prompts[blake2_256(prompt.encode())] = prompt
        self.behaviour[prompt] = behaviour

    async def handle(self, request: web.Request) -> web.Response:
        rid = int(request.match_info["rid"])
        try:
            who = verify_output_request(request.headers, rid)
        except Exception as exc:
            self.served.append((rid, "", 401))
            return web.Response(status=401, text=str(exc))
        if who != self.requesters.get(rid):
            self.served.append((rid, who, 403))
            return web.Response(status=403)
        data = self.outputs.get(rid)
        if data is None:
            self.served.append((rid, who, 404))
            return web.Response(status=404)
        self.served.append((rid, who, 200))
        return web.Response(body=data, content_type="application/octet-stream")

    async def run(self, chain: ChainClient, store: IpfsStore) -> None:
        async with chain.blocks(finalized=True) as blocks:
            async for block in blocks:
                self.following.set()
                for record in block.events:
                    event = record.event
                    if isinstance(event, rt.inference.events.InferenceRequested) and bytes(
                        event.executor.value
                    ) == bytes(BOB.public_key):
                        try:
                            await self.execute(chain, store, event.request_id)
                        except Exception as exc:  # surfaced by the fixture's teardown
                            self.errors.append(exc)

    async def execute(self, chain: ChainClient, store: IpfsStore, rid: int) -> None:
        stored = await chain.query(rt.inference.storage.requests(rid))
        assert stored is not None
        if stored.input_cid is not None:
            prompt = (await store.fetch_bytes(bytes(stored.input_cid).decode())).decode()
        else:
            prompt = self.prompts[bytes(stored.input_hash.value)]
        mode = self.behaviour.get(prompt, "serve")
        if mode == "silent":
            return
        request = ie.GenerationRequest(
            ie.RequestId(str(rid)), prompt, ie.SamplingParams(max_tokens=stored.max_tokens)
        )
        (output,) = await asyncio.to_thread(ie.generate_batch, self.env.model, [request])
        data = ie.encode_output(output)
        cid: bytes | None = None
        if "ipfs" in mode:
            cid = str((await store.add_bytes(data, name=f"output-{rid}")).cid).encode()
        elif mode != "withhold":
            self.outputs[rid] = data
        if "tamper" in mode:
            self.outputs[rid] = data[:-1] + bytes([data[-1] ^ 1])
        self.requesters[rid] = rt_ss58(stored.requester)
        receipt = await chain.submit(
            rt.inference.calls.submit_result(
                rid,
                rt.types.H256(ie.output_hash(data)),
                cid,
                output.prompt_token_count,
                len(output.tokens),
            ),
            BOB,
        )
        receipt.raise_for_error()


def rt_ss58(who: rt.types.AccountId32) -> str:
    return str(Keypair(public_key=bytes(who.value), ss58_format=42).ss58_address)


def make_env(
    tmp_path_factory: pytest.TempPathFactory, kubo: LocalKubo, kind: ChainKind = "devnode"
) -> Iterator[Env]:
    """The `env` fixture's body (module scope): a chain of its own (devnode unless `kind`
    says), the suite's Kubo."""
    models = _engine_conftest()
    model_dir = models.build_model(tmp_path_factory.mktemp("tiny-llama"), "llama", seed=7)
    # Rotary positions have no weights: a longer context only needs the config changed.
    models.edit_config(model_dir, max_position_embeddings=4096)
    for node in running_chain(kind, block_time=0.1, needs=("ModelRegistry", "Providers", "Inference")):  # fmt: skip
        port = free_port()
        size = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())
        model_id = asyncio.run(_register(node.url, kubo, model_dir, size, port))
        model = ie.load_model(model_dir, ie.EngineConfig(device="cpu"))
        yield Env(node, kubo, model_dir, model_id, model, port)
