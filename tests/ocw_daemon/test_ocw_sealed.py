"""Sealed on-chain requests end to end on devnode, Kubo and two real daemons (docs/privacy.md).

A unique marker in the prompt (inline and, for a long prompt, through IPFS) and the outputs the
requester gets back appear nowhere a bystander could look: no block's extrinsics or events, no
block in Kubo's blockstore, no line the daemons log. The drawn validator opens the re-sealed
prompt and output, checks them against the commitments, passes an honest result and slashes a
falsified one. A payload that does not open is declined on-chain (refund) and the daemon goes on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

import inference_engine as ie
import sealing
from inference_client import InferenceClient, InferenceClientConfig, PlaintextRefused
from ipfs_store import IpfsStore
from ocw_daemon import Daemon, ExecJob
from ocw_daemon._executor import Executor
from runtime_types import ChainClient
from runtime_types.generated.devnode import inference, types
from tests.chains import on_both_chains
from tests.devnode.conftest import NodeThread
from tests.ipfs_store.conftest import KuboDaemon, start_kubo, store_config
from tests.ocw_daemon.helpers import (
    BOB,
    CHARLIE,
    DAVE,
    EVE,
    PRICE,
    STAKE,
    build_tiny_model,
    daemon_config,
    free_port,
    ok,
    register_model,
    register_provider,
    scan,
    set_reputation,
    token_balance,
    wait_terminal,
)

pytestmark = pytest.mark.timeout(300)

MODEL_CURRENCY = 2


class CapturedLogs(logging.Handler):
    """Every record any logger emits, formatted as it would be written."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logs() -> Iterator[CapturedLogs]:
    handler = CapturedLogs()
    root, daemon = logging.getLogger(), logging.getLogger("ocw_daemon")
    old = root.level, daemon.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)  # what a deployment writes; the daemon's own debug lines too
    daemon.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old[0])
        daemon.setLevel(old[1])


class FalsifyingExecutor(Executor):
    """An executor that reports other tokens than its model produced (sealed like any)."""

    async def _infer(self, job: ExecJob) -> tuple[ie.OutputRecord, float]:
        output, took = await super()._infer(job)
        assert isinstance(output, ie.GenerationOutput)
        # each claimed token is swapped for its top alternative, claimed at its own logprob
        logprobs = tuple(
            dataclasses.replace(lp, token=alt, logprob=lp.logprob)
            for lp in output.logprobs
            for alt in [next((t for t, _ in lp.top if t != lp.token), lp.token)]
        )
        forged = tuple(lp.token for lp in logprobs)
        assert forged != output.tokens
        return dataclasses.replace(output, tokens=forged, logprobs=logprobs), took


class FalsifyingDaemon(Daemon):
    executor_class = FalsifyingExecutor


async def start_daemons(
    tmp_path: Path, node: NodeThread, kubo: KuboDaemon, chain: ChainClient, cid: str,
    bob_cls: type[Daemon] = Daemon,
) -> tuple[bytes, Daemon, Daemon]:  # fmt: skip
    model_id = await register_model(chain, cid)
    daemons = []
    for who, name, cls in ((BOB, "bob", bob_cls), (CHARLIE, "charlie", Daemon)):
        config = daemon_config(
            tmp_path, name, node.url, kubo.api_url, free_port(), outputs_public=True
        )
        daemon = cls(config, who)
        key = daemon.encryption_key.public
        await register_provider(chain, who, config.endpoint, [model_id], encryption_key=key)
        daemons.append(daemon)
    for d in daemons:
        await d.start()
    # reputation 0: validation probability 1, a validator is always drawn
    await set_reputation(chain, BOB, 0)
    await set_reputation(chain, CHARLIE, 0)
    return model_id, daemons[0], daemons[1]


@pytest.fixture
def own_kubo(tmp_path: Path) -> Iterator[KuboDaemon]:
    """A Kubo of the test's own (not the suite's shared one): its whole blockstore is scanned
    for secrets, so it must hold only what this test put there."""
    daemon = start_kubo(tmp_path / "own-kubo")
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
async def long_cid(own_kubo: KuboDaemon, tmp_path: Path) -> str:
    """A tiny model with room for a prompt too long to travel inline (sealed through IPFS)."""
    directory = build_tiny_model(tmp_path / "long-model", seed=3, n_positions=2048)
    async with IpfsStore(store_config(own_kubo.api_url)) as store:
        return str((await store.add(directory)).cid)


async def kubo_blocks(api_url: str) -> list[bytes]:
    """The raw bytes of every block in Kubo's blockstore."""
    out: list[bytes] = []
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{api_url}/api/v0/refs/local") as resp:
            refs = [json.loads(line)["Ref"] for line in (await resp.text()).splitlines() if line]
        for ref in refs:
            async with session.post(f"{api_url}/api/v0/block/get", params={"arg": ref}) as resp:
                assert resp.status == 200, ref
                out.append(await resp.read())
    assert refs
    return out


async def chain_bytes(chain: ChainClient, first: int, last: int) -> list[bytes]:
    """Every extrinsic of every block, and a rendering of every event with its fields."""
    out: list[bytes] = []
    for number in range(first, last + 1):
        block = await chain.block(number)
        assert block is not None
        out.extend(bytes(x) for x in block.extrinsics)
        out.extend(repr(record.event).encode() for record in block.events)
    return out


async def test_marker_never_leaves_the_sealed_envelopes(
    tmp_path: Path,
    node: NodeThread,
    own_kubo: KuboDaemon,
    chain: ChainClient,
    long_cid: str,
    logs: CapturedLogs,
) -> None:
    marker = "zq" + os.urandom(8).hex()
    short = f"Tell me about {marker} please"
    long = f"{marker} " + "and again the same long context " * 60 + marker  # > MaxSealedInline
    kubo = own_kubo
    model_id, bob, charlie = await start_daemons(tmp_path, node, kubo, chain, long_cid)
    try:
        first = await chain.head_number() + 1
        config = InferenceClientConfig(
            chain_url=node.url, ipfs_api_url=kubo.api_url, deadline_blocks=150
        )
        async with InferenceClient(config, DAVE) as client:
            results = await asyncio.gather(
                client.infer("0x" + model_id.hex(), short, max_tokens=16),
                client.infer("0x" + model_id.hex(), long, max_tokens=16),
            )
        last = await chain.head_number()
        deadline = time.monotonic() + 30
        while min(bob.head, charlie.head) < last:  # both daemons saw (and logged) every block
            assert time.monotonic() < deadline, "the daemons did not reach the head"
            await asyncio.sleep(0.05)
        log = await scan(chain, first, last)
        assert len(log.events["ValidationPassed"]) == 2 and not log.events["ValidationFailed"]
        # the outputs the requester opened, where long enough not to occur by chance
        outputs = [r.text for r in results if len(r.text.encode()) >= 8]
        assert outputs, [r.text for r in results]
        for r in results:
            stored = await chain.query(inference.storage.requests(r.request_id))
            assert stored is not None and stored.sealed and stored.output_key is not None
            assert stored.output_cid is not None  # outputs are published: sealed blobs only
        long_req = await chain.query(inference.storage.requests(results[1].request_id))
        assert long_req is not None and long_req.input_cid is not None  # via IPFS, sealed

        secrets = [marker.encode(), *(t.encode() for t in outputs)]
        haystacks = {
            "chain": await chain_bytes(chain, 1, last),
            "kubo": await kubo_blocks(kubo.api_url),
            "logs": [line.encode() for line in logs.lines],
        }
        assert logs.lines  # the daemons did log
        for where, items in haystacks.items():
            for item in items:
                for secret in secrets:
                    assert secret not in item, f"a secret is readable in the {where}"
        # the scans are able to find what they look for: a plaintext request shows up
        async with InferenceClient(config, DAVE) as client:
            plain = await client.infer(
                "0x" + model_id.hex(), f"public {marker}", max_tokens=2, plaintext=True
            )
        stored = await chain.query(inference.storage.requests(plain.request_id))
        assert stored is not None and not stored.sealed
        later = await chain_bytes(chain, last + 1, await chain.head_number())
        assert any(marker.encode() in item for item in later)
    finally:
        await bob.close()
        await charlie.close()


@on_both_chains
async def test_falsified_sealed_result_is_slashed(
    tmp_path: Path, node: NodeThread, kubo: KuboDaemon, chain: ChainClient, tiny_cid: str
) -> None:
    model_id, bob, charlie = await start_daemons(
        tmp_path, node, kubo, chain, tiny_cid, bob_cls=FalsifyingDaemon
    )
    try:
        # only Bob publishes a wrap for this request: he executes, Charlie validates
        salt = os.urandom(32)
        prompt = b"a falsified answer"
        ctx = sealing.Context(
            "chain-input", 0, model_id, sealing.Role.REQUESTER, sealing.Role.EXECUTOR,
            DAVE.public_key,
        )  # fmt: skip
        sealed = sealing.seal_multi(
            [(BOB.public_key, bob.encryption_key.public)], salt + prompt, ctx
        )
        body = types.SealedInput(
            types.H256(sealing.commit_input(salt, prompt)),
            sealing.EncryptionKey.generate().public,
            [types.KeyWrap(types.AccountId32(a), w) for a, w in sealed.wraps],
            sealed.payload,
        )
        before = await token_balance(chain, BOB, 1)
        first = await chain.head_number() + 1
        receipt = await ok(
            chain,
            inference.calls.request(
                types.H256(model_id), types.InferenceInputSealedInline(body), 8, 4, PRICE, 60
            ),
            DAVE,
        )
        rid = next(
            int(e.event.request_id) for e in receipt.events if e.name == "InferenceRequested"
        )
        final = (await wait_terminal(chain, [rid], within=90))[rid]
        assert type(final.state).__variant_name__ == "Rejected"
        log = await scan(chain, first, await chain.head_number())
        (failed,) = log.events["ValidationFailed"]
        assert bytes(failed.validator.value) == CHARLIE.public_key
        assert int(failed.slashed) == STAKE // 10
        assert (await token_balance(chain, BOB, 1))[1] == before[1] - STAKE // 10
    finally:
        await bob.close()
        await charlie.close()


async def test_unopenable_inputs_are_declined_and_the_daemon_keeps_serving(
    tmp_path: Path,
    node: NodeThread,
    kubo: KuboDaemon,
    chain: ChainClient,
    tiny_cid: str,
    logs: CapturedLogs,
) -> None:
    model_id, bob, charlie = await start_daemons(tmp_path, node, kubo, chain, tiny_cid)
    try:
        ctx = sealing.Context(
            "chain-input", 0, model_id, sealing.Role.REQUESTER, sealing.Role.EXECUTOR,
            EVE.public_key,
        )  # fmt: skip
        stranger = sealing.EncryptionKey.generate()
        secret = b"undeliverable secret " + os.urandom(4).hex().encode()

        def sealed_input(case: str) -> types.InferenceInput:
            salt = os.urandom(32)  # a commitment is accepted once: each case has its own
            keys = {BOB.public_key: bob.encryption_key.public}
            if case == "wrong-recipient":  # wrapped to a key Bob does not hold
                keys = {BOB.public_key: stranger.public}
            sealed = sealing.seal_multi(list(keys.items()), salt + secret, ctx)
            payload = sealed.payload
            commitment = sealing.commit_input(salt, secret)
            if case == "truncated":
                payload = payload[:20]
            if case == "corrupted":
                payload = payload[:-1] + bytes([payload[-1] ^ 1])
            if case == "commitment":
                commitment = sealing.commit_input(os.urandom(32), secret)
            return types.InferenceInputSealedInline(
                types.SealedInput(
                    types.H256(commitment),
                    stranger.public,
                    [types.KeyWrap(types.AccountId32(a), w) for a, w in sealed.wraps],
                    payload,
                )
            )

        cases = ["wrong-recipient", "truncated", "corrupted", "commitment"]
        before = await token_balance(chain, EVE, MODEL_CURRENCY)
        rids = []
        for case in cases:
            receipt = await ok(
                chain,
                inference.calls.request(types.H256(model_id), sealed_input(case), 8, 4, PRICE, 60),
                EVE,
            )
            rids.append(
                next(
                    int(e.event.request_id)
                    for e in receipt.events
                    if e.name == "InferenceRequested"
                )
            )
        # an honest request right behind them is still served
        config = InferenceClientConfig(chain_url=node.url, ipfs_api_url=kubo.api_url)
        async with InferenceClient(config, DAVE) as client:
            served = await client.infer("0x" + model_id.hex(), "still serving?", max_tokens=3)
        assert served.completion_tokens >= 1
        finals = await wait_terminal(chain, rids, within=60)
        assert {type(f.state).__variant_name__ for f in finals.values()} == {"Declined"}
        # refunded in full (fees are paid in the native token)
        assert await token_balance(chain, EVE, MODEL_CURRENCY) == before
        refused = "\n".join(line for line in logs.lines if "declining request" in line)
        for name in ("WrongRecipient", "EnvelopeTruncated", "OpenFailed", "CommitmentMismatch"):
            assert name in refused, (name, refused)
        assert all(secret not in line.encode() for line in logs.lines)
    finally:
        await bob.close()
        await charlie.close()


async def test_client_refuses_plaintext_unless_asked(
    tmp_path: Path, node: NodeThread, kubo: KuboDaemon, chain: ChainClient, tiny_cid: str
) -> None:
    model_id = await register_model(chain, tiny_cid)
    await register_provider(chain, BOB, "http://127.0.0.1:9", [model_id])  # no key
    config = InferenceClientConfig(chain_url=node.url, ipfs_api_url=kubo.api_url)
    first = await chain.head_number()
    async with InferenceClient(config, DAVE) as client:
        with pytest.raises(PlaintextRefused, match="plaintext=True"):
            await client.submit("0x" + model_id.hex(), "keep me private", max_tokens=2)
        log = await scan(chain, first, await chain.head_number())
        assert not log.events["InferenceRequested"]  # nothing was sent
        submitted = await client.submit(
            "0x" + model_id.hex(), "public", max_tokens=2, plaintext=True
        )
    stored = await chain.query(inference.storage.requests(submitted.request_id))
    assert stored is not None and stored.sealed is False and submitted.output_key is None


def test_encryption_key_lives_beside_the_keystore_and_env_overrides(tmp_path: Path) -> None:
    from ocw_daemon import DaemonConfig, KeystoreError, load_encryption_key

    keystore = tmp_path / "keys" / "provider.json"
    config = DaemonConfig(data_dir=tmp_path / "data", keystore=keystore)
    key = load_encryption_key(config, env={})
    path = tmp_path / "keys" / "provider.json.x25519.json"
    assert config.encryption_key_path == path and path.exists()
    assert (path.stat().st_mode & 0o077) == 0
    assert load_encryption_key(config, env={}).public == key.public  # reloaded, not replaced
    other = sealing.EncryptionKey.generate()
    env = {"OCW_ENCRYPTION_SECRET": other.secret_bytes().hex()}
    assert load_encryption_key(config, env=env).public == other.public
    assert DaemonConfig(data_dir=tmp_path / "d2").encryption_key_path == (
        tmp_path / "d2" / "encryption-key.json"
    )
    path.chmod(0o644)
    with pytest.raises(KeystoreError, match="readable by others"):
        load_encryption_key(config, env={})
