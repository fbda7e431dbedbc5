"""Helpers for the daemon tests: a tiny model, the chain set-up, daemon configs, balances.

Real components only: devnode (in a thread, short block time), Kubo and redis-server from the
ipfs_store and cache fixtures. Everything on-chain goes through the runtime_types client.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from substrateinterface import Keypair

from ocw_daemon import DaemonConfig
from runtime_types import ChainClient, Receipt
from runtime_types.generated.devnode import (
    inference,
    model_registry,
    providers,
    sudo,
    system,
    tokens,
    types,
)

ALICE = Keypair.create_from_uri("//Alice")  # sudo, model author
BOB = Keypair.create_from_uri("//Bob")  # provider
CHARLIE = Keypair.create_from_uri("//Charlie")  # provider
DAVE = Keypair.create_from_uri("//Dave")  # requester
EVE = Keypair.create_from_uri("//Eve")  # requester
STAKE_CURRENCY = 1
MODEL_CURRENCY = 2
STAKE = 100 * 10**12
PRICE = 2_000_000  # per 1k tokens
AUTHOR_SHARE = 250_000  # 25 %
TERMINAL = ("Completed", "Expired", "Rejected", "Declined")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def build_tiny_model(directory: Path, seed: int = 1, n_positions: int = 128) -> Path:
    """A random-weight GPT-2 (2 layers, 32 wide) with a byte-level BPE tokenizer."""
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = ["hello world, hello chain", "the quick brown fox jumps over the lazy dog"]
    tokenizer.train_from_iterator(corpus * 4, trainer=trainer)
    tokenizer.save(str(directory / "tokenizer.json"))
    config = transformers.GPT2Config(
        vocab_size=tokenizer.get_vocab_size(),
        n_positions=n_positions,
        n_embd=32,
        n_layer=2,
        n_head=4,
        bos_token_id=0,
        eos_token_id=0,
    )
    torch.manual_seed(seed)
    model = transformers.GPT2LMHeadModel(config)
    with torch.no_grad():
        for param in model.parameters():
            param.mul_(4.0)
    model.save_pretrained(str(directory), safe_serialization=True)
    return directory


def build_hostile_model(directory: Path, good: Path) -> Path:
    """The tiny model plus a pickle file: the engine must refuse to load it."""
    import shutil

    shutil.copytree(good, directory)
    (directory / "pytorch_model.bin").write_bytes(b"\x80\x04cos\nsystem\n(S'true'\ntR.")
    return directory


def account(who: Keypair) -> types.AccountId32:
    return types.AccountId32(who.public_key)


def multi(who: Keypair) -> types.MultiAddress:
    return types.MultiAddressId(account(who))


async def ok(client: ChainClient, call: Any, signer: Keypair) -> Receipt:
    receipt = await client.submit(call, signer)
    assert receipt.success, f"{call.pallet}.{call.name}: {receipt.error}"
    return receipt


async def register_model(client: ChainClient, cid: str, name: bytes = b"tiny") -> bytes:
    receipt = await ok(
        client,
        model_registry.calls.register_model(
            cid.encode(),
            name,
            types.ModelTaskTextGeneration(),
            types.WeightFormatSafetensors(),
            100_000,
            PRICE,
            MODEL_CURRENCY,
            types.Permill(AUTHOR_SHARE),
        ),
        ALICE,
    )
    event = next(
        e.event
        for e in receipt.events
        if isinstance(e.event, model_registry.events.ModelRegistered)
    )
    return bytes(event.model_id.value)


async def register_provider(
    client: ChainClient,
    who: Keypair,
    endpoint: str,
    model_ids: list[bytes],
    capacity: int = 32,
    encryption_key: bytes | None = None,
) -> None:
    await ok(
        client,
        providers.calls.register_provider(
            STAKE, endpoint.encode(), [types.H256(m) for m in model_ids], capacity, encryption_key
        ),
        who,
    )


async def set_reputation(client: ChainClient, who: Keypair, reputation: int) -> None:
    """Sudo `Providers.set_reputation`, through the typed client."""
    inner = providers.calls.set_reputation(multi(who), reputation)
    receipt = await ok(client, sudo.calls.sudo(types.RuntimeCallProviders(inner.args)), ALICE)
    sudid = [e.event for e in receipt.events if isinstance(e.event, sudo.events.Sudid)]
    assert len(sudid) == 1 and isinstance(sudid[0].sudo_result, types.ResultOk), sudid


async def request(
    client: ChainClient,
    who: Keypair,
    model_id: bytes,
    prompt: bytes | None = b"hello world",
    *,
    input_cid: str | None = None,
    max_tokens: int = 6,
    deadline_blocks: int = 40,
) -> int:
    data: types.InferenceInput = (
        types.InferenceInputCid(input_cid.encode())
        if input_cid is not None
        else types.InferenceInputInline(prompt or b"")
    )
    receipt = await ok(
        client,
        inference.calls.request(types.H256(model_id), data, 4, max_tokens, PRICE, deadline_blocks),
        who,
    )
    event = next(
        e.event for e in receipt.events if isinstance(e.event, inference.events.InferenceRequested)
    )
    return int(event.request_id)


async def wait_terminal(
    client: ChainClient, request_ids: list[int], within: float = 60
) -> dict[int, types.InferenceRequest]:
    deadline = time.monotonic() + within
    done: dict[int, types.InferenceRequest] = {}
    while True:
        for rid in request_ids:
            if rid in done:
                continue
            info = await client.query(inference.storage.requests(rid))
            assert info is not None
            if type(info.state).__variant_name__ in TERMINAL:
                done[rid] = info
        if len(done) == len(request_ids):
            return done
        if time.monotonic() > deadline:
            states = {
                r: type((await client.query(inference.storage.requests(r))).state).__name__
                for r in request_ids
                if r not in done
            }
            raise AssertionError(f"requests not terminal after {within}s: {states}")
        await asyncio.sleep(0.2)


async def token_balance(client: ChainClient, who: Keypair, currency: int) -> tuple[int, int]:
    data = await client.query(tokens.storage.accounts(account(who), currency))
    return int(data.free), int(data.reserved)


async def native_free(client: ChainClient, who: Keypair) -> int:
    info = await client.query(system.storage.account(account(who)))
    return int(info.data.free)


@dataclass
class ChainLog:
    """Every Inference event and every fee paid, per block range."""

    events: dict[str, list[Any]]
    fees: dict[bytes, int]


async def scan(client: ChainClient, first: int, last: int) -> ChainLog:
    events: dict[str, list[Any]] = defaultdict(list)
    fees: dict[bytes, int] = defaultdict(int)
    for number in range(first, last + 1):
        block = await client.block(number)
        assert block is not None
        for record in block.events:
            if record.pallet == "Inference":
                events[record.name].append(record.event)
            if record.pallet == "TransactionPayment" and record.name == "TransactionFeePaid":
                fees[bytes(record.event.who.value)] += int(record.event.actual_fee)
    return ChainLog(events, fees)


def daemon_config(
    tmp: Path,
    name: str,
    node_url: str,
    ipfs_api_url: str,
    port: int,
    redis_url: str | None = None,
    **overrides: Any,
) -> DaemonConfig:
    params: dict[str, Any] = {
        "node_url": node_url,
        "data_dir": tmp / name,
        "http_port": port,
        "ipfs_api_url": ipfs_api_url,
        "redis_url": redis_url,
        "tier1_capacity": 2**30,
        "disk_capacity": 2**30,
        "device": "cpu",
        "fetch_timeout_s": 2.0,
        "grace_period_s": 3.0,
        "preload_interval_s": 0.0,
        "poll_interval_s": 0.02,
        "retry_backoff_s": 0.2,
        "inference_timeout_s": 30.0,
    }
    params.update(overrides)
    return DaemonConfig(**params)


def write_daemon_toml(path: Path, config: DaemonConfig, keystore: Path) -> None:
    lines = ["[daemon]"]
    for key in (
        "node_url", "ipfs_api_url", "device",
    ):  # fmt: skip
        lines.append(f"{key} = {json.dumps(getattr(config, key))}")
    lines.append(f"data_dir = {json.dumps(str(config.data_dir))}")
    lines.append(f"keystore = {json.dumps(str(keystore))}")
    # the X25519 key the config's owner registered (not one beside the keystore)
    lines.append(f"encryption_keystore = {json.dumps(str(config.encryption_key_path))}")
    for key in ("http_port", "tier1_capacity", "disk_capacity"):
        lines.append(f"{key} = {getattr(config, key)}")
    for key in (
        "fetch_timeout_s", "grace_period_s", "preload_interval_s", "poll_interval_s",
        "retry_backoff_s", "inference_timeout_s",
    ):  # fmt: skip
        lines.append(f"{key} = {float(getattr(config, key))}")
    if config.redis_url:
        lines.append(f"redis_url = {json.dumps(config.redis_url)}")
    path.write_text("\n".join(lines) + "\n")


def write_keystore(path: Path, uri: str) -> Path:
    path.write_text(json.dumps({"seed": uri}))
    path.chmod(0o600)
    return path
