"""`ModelTask::Embedding` on the on-chain path, with the real all-MiniLM-L6-v2: registered as an
embedding model, pulled from Kubo by two daemons, executed, validated by the other daemon,
paid, and fetched and verified by the dApp client, whose escrow counts real tokens."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import math
from pathlib import Path

import pytest

import inference_engine as ie
from inference_client import InferenceClient, InferenceClientConfig
from inference_engine.tiny import packaged_minilm
from ipfs_store import IpfsStore
from ocw_daemon import Daemon
from runtime_types import ChainClient
from runtime_types.generated.devnode import model_registry, types
from tests.devnode.conftest import NodeThread
from tests.ipfs_store.conftest import KuboDaemon, running_fault_proxy
from tests.ocw_daemon.helpers import (
    ALICE,
    AUTHOR_SHARE,
    BOB,
    CHARLIE,
    DAVE,
    MODEL_CURRENCY,
    PRICE,
    daemon_config,
    free_port,
    ok,
    register_provider,
    scan,
    set_reputation,
)

pytestmark = pytest.mark.timeout(300)

SENTENCES = (
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The new movie is awesome.",
)


def _cos(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


async def test_embedding_requests_run_validate_and_pay_on_chain(
    tmp_path: Path,
    node: NodeThread,
    kubo: KuboDaemon,
    chain: ChainClient,
    store: IpfsStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model_dir = packaged_minilm()
    cid = str((await store.add(model_dir)).cid)
    receipt = await ok(
        chain,
        model_registry.calls.register_model(
            cid.encode(), b"all-MiniLM-L6-v2", types.ModelTaskEmbedding(),
            types.WeightFormatSafetensors(), 90_000_000, PRICE, MODEL_CURRENCY,
            types.Permill(AUTHOR_SHARE),
        ),
        ALICE,
    )  # fmt: skip
    model_id = next(
        bytes(e.event.model_id.value)
        for e in receipt.events
        if isinstance(e.event, model_registry.events.ModelRegistered)
    )
    daemons = []
    for who, name in ((BOB, "bob"), (CHARLIE, "charlie")):
        config = daemon_config(tmp_path, name, node.url, kubo.api_url, free_port())
        daemon = Daemon(config, who)  # its X25519 key: the client seals the sentences to it
        key = daemon.encryption_key.public
        await register_provider(chain, who, config.endpoint, [model_id], encryption_key=key)
        daemons.append(daemon)
    for daemon in daemons:
        await daemon.start()
    try:
        await set_reputation(chain, BOB, 0)  # reputation 0: every result is validated
        await set_reputation(chain, CHARLIE, 0)
        first = await chain.head_number() + 1
        # 150 blocks of 0.2 s: time for both daemons to pull 90 MB from Kubo and load it
        client_config = InferenceClientConfig(
            chain_url=node.url, ipfs_api_url=kubo.api_url, deadline_blocks=150
        )
        async with InferenceClient(client_config, DAVE) as client:
            client.use_tokenizer("0x" + model_id.hex(), model_dir)
            results = await asyncio.gather(
                *(client.infer("0x" + model_id.hex(), s, max_tokens=1) for s in SENTENCES)
            )
        log = await scan(chain, first, await chain.head_number())
        assert len(log.events["ValidationPassed"]) == 3 and not log.events["ValidationFailed"]
        tokenizer = ie.load_tokenizer(model_dir)
        for sentence, result in zip(SENTENCES, results, strict=True):
            assert result.finish_reason == "embedding" and result.completion_tokens == 0
            assert len(result.embedding) == 384
            assert abs(math.fsum(v * v for v in result.embedding) - 1) < 1e-5
            # the escrow was for the real count, which is what the executor reported
            assert result.prompt_tokens == tokenizer.count(sentence)
            assert result.refund > 0  # max_tokens = 1 was escrowed but not used
        requested = {int(e.request_id): e for e in log.events["InferenceRequested"]}
        for result in results:
            escrow = -(-(tokenizer.count(SENTENCES[results.index(result)]) + 1) * PRICE // 1000)
            assert requested[result.request_id].escrow == escrow
        # real semantics, end to end
        eat, bread, movie = (r.embedding for r in results)
        assert _cos(eat, bread) > 0.6 > 0.3 > _cos(eat, movie)
        # the CLI: `infer --tokenizer DIR` escrows the exact count and prints the vector
        from inference_client.__main__ import main as infer_main

        monkeypatch.setenv("INFER_KEY_URI", "//Dave")
        monkeypatch.delenv("INFER_KEY_FILE", raising=False)
        argv = [
            "--model", "0x" + model_id.hex(), "--prompt", SENTENCES[0], "--max-tokens", "1",
            "--url", node.url, "--ipfs-api", kubo.api_url, "--deadline-blocks", "150",
            "--tokenizer", str(model_dir), "--json", "--quiet",
        ]  # fmt: skip
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = await asyncio.to_thread(infer_main, argv)
        assert code == 0
        printed = json.loads(out.getvalue())
        assert printed["prompt_tokens"] == tokenizer.count(SENTENCES[0])
        assert _cos(tuple(printed["embedding"]), eat) > 1 - 1e-6
        submitted = {int(e.request_id): e for e in log.events["ResultSubmitted"]}
        for result in results:
            assert (
                "0x" + bytes(submitted[result.request_id].output_hash.value).hex()
                == result.output_hash
            )
    finally:
        for daemon in daemons:
            await daemon.close()


async def test_a_request_that_expires_while_the_model_loads_ends_cleanly(
    tmp_path: Path,
    node: NodeThread,
    kubo: KuboDaemon,
    chain: ChainClient,
    store: IpfsStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two blocks (0.4 s) of deadline while the executor pulls 90 MB through a Kubo that holds
    every fetch until the request has expired on-chain (on an idle machine the pull and load
    could otherwise win the race): the job, started before the expiry, ends `expired` once the
    fetch is let through, without a crash or a late submit."""
    from ocw_daemon import JobState
    from tests.ocw_daemon.helpers import request, wait_terminal

    cid = str((await store.add(packaged_minilm())).cid)
    receipt = await ok(
        chain,
        model_registry.calls.register_model(
            cid.encode(), b"minilm", types.ModelTaskEmbedding(), types.WeightFormatSafetensors(),
            90_000_000, PRICE, MODEL_CURRENCY, types.Permill(AUTHOR_SHARE),
        ),
        ALICE,
    )  # fmt: skip
    model_id = next(
        bytes(e.event.model_id.value)
        for e in receipt.events
        if isinstance(e.event, model_registry.events.ModelRegistered)
    )
    async with running_fault_proxy(kubo.api_url) as held:
        held.hold = asyncio.Event()
        config = daemon_config(tmp_path, "bob", node.url, held.url, free_port())
        await register_provider(chain, BOB, config.endpoint, [model_id])
        async with Daemon(config, BOB) as bob:
            rid = await request(chain, DAVE, model_id, b"A man is eating food.", deadline_blocks=2)
            await asyncio.wait_for(held.holding.wait(), 60)  # the job is under way
            final = (await wait_terminal(chain, [rid], within=60))[rid]
            assert type(final.state).__variant_name__ == "Expired"
            held.hold.set()

            async def settled() -> bool:
                job = await bob.store.job(rid)
                return (
                    job is not None
                    and job.state is JobState.EXPIRED
                    and rid not in bob.executor.queued
                )

            deadline = asyncio.get_running_loop().time() + 60
            while not await settled():
                assert asyncio.get_running_loop().time() < deadline, await bob.store.job(rid)
                await asyncio.sleep(0.1)
    assert "crashed" not in caplog.text
