"""The direct path end to end on a chain in instant mode (devnode, and the Rust runtime: see
`on_both_chains`), Kubo and Redis with real daemons, driven by the official `openai` client:
tokens before any block, exact batched settlement, OpenAI error shapes, a tampered stream,
on-chain replay and expiry refusals."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from aiohttp import web

from inference_gateway.protocol import next_ticket, prompt_hash, ticket_message
from ocw_daemon._status import verify_status
from runtime_types import ChainClient
from runtime_types.generated.devnode import channels, providers, types
from tests.cache.helpers import RedisServer
from tests.chains import on_both_chains
from tests.devnode.conftest import NodeThread
from tests.inference_gateway.helpers import (
    ALICE,
    AUTHOR_SHARE,
    BOB,
    CHARLIE,
    DAVE,
    MODEL_CURRENCY,
    PPM,
    channel,
    expected_cost,
    start_stack,
    token_balance,
    wait_for,
)
from tests.ipfs_store.conftest import KuboDaemon
from tests.ocw_daemon.helpers import EVE, account, free_port, register_model

pytestmark = [pytest.mark.timeout(300), on_both_chains]


def _usage(chunks: list[Any]) -> tuple[int, int]:
    usage = next(c.usage for c in chunks if getattr(c, "usage", None) is not None)
    return int(usage.prompt_tokens), int(usage.completion_tokens)


async def test_openai_client_streams_and_the_settlement_is_exact(
    tmp_path: Path,
    node: NodeThread,
    kubo: KuboDaemon,
    chain: ChainClient,
    model_cid: str,
    redis_server: RedisServer,
) -> None:
    stack = await start_stack(tmp_path, node, kubo, chain, model_cid, redis_server.url)
    model = "0x" + stack.model_id.hex()
    oa = openai.AsyncOpenAI(base_url=stack.url, api_key="unused", max_retries=0)
    try:
        listed = await oa.models.list()
        assert [m.id for m in listed.data] == [model]
        before = {
            k.ss58_address: await token_balance(chain, k, MODEL_CURRENCY)
            for k in (ALICE, BOB, CHARLIE, DAVE)
        }
        usages: list[tuple[int, int]] = []

        # a streamed completion: the first token comes while the chain has made no block
        head = await chain.head_number()
        stream = await oa.completions.create(
            model=model,
            prompt="hello world",
            max_tokens=12,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
        first = await anext(aiter(stream))
        assert await chain.head_number() == head, "a block was produced before the first token"
        chunks = [first] + [c async for c in stream]
        text = "".join(c.choices[0].text for c in chunks if c.choices)
        usages.append(_usage(chunks))
        assert usages[-1][1] == 12
        finish = [c.choices[0].finish_reason for c in chunks if c.choices]
        assert finish[-1] == "length"

        # a streamed chat completion with the sync client (in a thread: the gateway shares
        # this event loop), logprobs and a seed
        def chat() -> list[Any]:
            sync = openai.OpenAI(base_url=stack.url, api_key="unused", max_retries=0)
            with sync:
                got = sync.chat.completions.create(
                    model=model,
                    messages=[{"role": "user", "content": "hello chain"}],
                    max_tokens=8,
                    stream=True,
                    logprobs=True,
                    top_logprobs=2,
                    seed=7,
                    stream_options={"include_usage": True},
                )
                return list(got)

        head = await chain.head_number()
        chat_chunks = await asyncio.to_thread(chat)
        assert chat_chunks[0].choices[0].delta.role == "assistant"
        usages.append(_usage(chat_chunks))
        assert usages[-1][1] >= 1
        tops = [
            lp
            for c in chat_chunks
            if c.choices and c.choices[0].logprobs
            for lp in c.choices[0].logprobs.content
        ]
        assert tops and all(len(t.top_logprobs) == 2 for t in tops)

        # not streamed: the same seed and prompt give the same text
        whole = [
            await oa.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": "hello chain"}],
                max_tokens=8,
                seed=7,
            )
            for _ in range(2)
        ]
        assert whole[0].choices[0].message.content == whole[1].choices[0].message.content
        for w in whole:
            assert w.usage is not None
            usages.append((w.usage.prompt_tokens, w.usage.completion_tokens))
        streamed_chat = "".join(c.choices[0].delta.content or "" for c in chat_chunks if c.choices)
        assert streamed_chat == whole[0].choices[0].message.content
        assert text == "".join(c.choices[0].text for c in chunks if c.choices)
        assert await chain.head_number() == head, "the direct path put nothing on-chain yet"

        # each daemon's signed status names its warm models, queue depth and recent ttft
        warm = []
        async with aiohttp.ClientSession() as session:
            for name, key in (("bob", BOB), ("charlie", CHARLIE)):
                nonce = "ab" * 16
                url = f"{stack.daemons[name].http.url}/status?nonce={nonce}"
                async with session.get(url) as resp:
                    document = verify_status(await resp.json(), key.public_key, nonce)
                assert {"warm", "queue_depth", "ttft_ms"} <= set(document)
                assert document["queue_depth"] == 0
                warm.extend(document["warm"])
                if document["warm"]:
                    assert document["ttft_ms"] is not None and document["ttft_ms"] > 0
        assert model in warm

        # OpenAI error shapes
        with pytest.raises(openai.NotFoundError) as unknown:
            await oa.completions.create(model="0x" + "ab" * 32, prompt="x", max_tokens=2)
        assert unknown.value.code == "model_not_found"
        with pytest.raises(openai.BadRequestError) as bad:
            await oa.completions.create(model=model, prompt="x", max_tokens=2, temperature=5)
        assert bad.value.param == "temperature"

        # batched settlement: one extrinsic per executor, exact payouts in the model currency
        settled = await stack.settle()
        assert settled == len(usages)

        async def no_checks() -> bool:
            found = [await channel(chain, DAVE, k) for k in (BOB, CHARLIE)]
            return all(c is not None and c.held == 0 for c in found)

        await wait_for(no_checks)
        costs = [expected_cost(p, c) for p, c in usages]
        author = sum(c * AUTHOR_SHARE // PPM for c in costs)
        after = {
            k.ss58_address: await token_balance(chain, k, MODEL_CURRENCY)
            for k in (ALICE, BOB, CHARLIE, DAVE)
        }
        d0, d1 = before[DAVE.ss58_address], after[DAVE.ss58_address]
        assert d1 == (d0[0], d0[1] - sum(costs))
        assert after[ALICE.ss58_address][0] == before[ALICE.ss58_address][0] + author
        earned = sum(after[k.ss58_address][0] - before[k.ss58_address][0] for k in (BOB, CHARLIE))
        assert earned == sum(costs) - author
        assert await stack.settle() == 0  # nothing left, nothing twice
    finally:
        await oa.close()
        await stack.close()


async def test_error_statuses_for_credit_and_providers(
    tmp_path: Path,
    node: NodeThread,
    kubo: KuboDaemon,
    chain: ChainClient,
    model_cid: str,
) -> None:
    """402 without credit (Eve has no channel), 503 for a model nobody serves, and a chat on
    a model without a chat template is refused with a pointer to /v1/completions."""
    from inference_gateway import DirectClient, DirectConfig, GatewayServer

    stack = await start_stack(tmp_path, node, kubo, chain, model_cid, None)
    eve_client = await DirectClient(DirectConfig(chain_url=node.url), EVE).connect()
    eve = await GatewayServer(eve_client).start("127.0.0.1", 0)
    try:
        model = "0x" + stack.model_id.hex()
        async with aiohttp.ClientSession() as session:
            body = {"model": model, "prompt": "hello", "max_tokens": 2}
            async with session.post(f"{eve.url}/completions", json=body) as resp:
                assert resp.status == 402
                error = (await resp.json())["error"]
                assert error["type"] == "insufficient_quota" and error["message"]
            orphan = await register_model(
                chain, "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", b"orphan"
            )
            body = {"model": "0x" + orphan.hex(), "prompt": "hello", "max_tokens": 2}
            async with session.post(f"{stack.url}/completions", json=body) as resp:
                assert resp.status == 503
                assert (await resp.json())["error"]["code"] == "no_provider"
            body = {"model": "tiny", "messages": "nope"}
            async with session.post(f"{stack.url}/chat/completions", json=body) as resp:
                assert resp.status == 400
                assert (await resp.json())["error"]["param"] == "messages"
            # what `curl -N` sees: server-sent events, one JSON chunk per line, then [DONE]
            body = {
                "model": "tiny",
                "prompt": "hello world",
                "max_tokens": 4,
                "stream": True,
                "temperature": 0,
            }
            async with session.post(f"{stack.url}/completions", json=body) as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"].startswith("text/event-stream")
                lines = [ln for ln in (await resp.text()).split("\n") if ln]
            assert lines[-1] == "data: [DONE]"
            chunks = [json.loads(ln[6:]) for ln in lines[:-1]]
            assert all(c["object"] == "text_completion" for c in chunks)
            assert chunks[-1]["choices"][0]["finish_reason"] == "length"
            # the registered name works as the model field when it is unique
            body = {"model": "tiny", "prompt": "hello world", "max_tokens": 3, "temperature": 0}
            async with session.post(f"{stack.url}/completions", json=body) as resp:
                assert resp.status == 200, await resp.text()
                assert (await resp.json())["usage"]["completion_tokens"] == 3
    finally:
        await eve.close()
        await eve_client.close()
        await stack.close()


class TamperingProxy:
    """Forwards to a daemon, but changes the token of the third streamed token event."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.tampered = 0
        self.runner: web.AppRunner | None = None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        url = f"{self.upstream}{request.path_qs}"
        body = await request.read()
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method, url, data=body, headers={"Content-Type": "application/json"}
            ) as upstream,
        ):
            if "text/event-stream" not in upstream.headers.get("Content-Type", ""):
                return web.Response(
                    status=upstream.status,
                    body=await upstream.read(),
                    content_type=upstream.content_type,
                )
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            tokens_seen = 0
            async for line in upstream.content:
                if line.startswith(b'data: {"i"') and b'"t":' in line:
                    tokens_seen += 1
                    if tokens_seen == 3:
                        event = json.loads(line[6:])
                        event["t"] = (event["t"] + 1) % 300
                        line = b"data: " + json.dumps(event).encode() + b"\n"
                        self.tampered += 1
                await response.write(line)
            await response.write_eof()
            return response


async def test_tampered_stream_errors_and_replayed_or_expired_tickets_are_refused(
    tmp_path: Path,
    node: NodeThread,
    kubo: KuboDaemon,
    chain: ChainClient,
    model_cid: str,
) -> None:
    charlie_port = free_port()
    proxy = TamperingProxy(f"http://127.0.0.1:{charlie_port}")
    await proxy.start()
    stack = await start_stack(
        tmp_path,
        node,
        kubo,
        chain,
        model_cid,
        None,
        deposits={"charlie": 10**15},
        endpoints={"charlie": proxy.url},
        ports={"charlie": charlie_port},
        sealed=False,  # a plaintext stream, so the proxy can change a token (sealed: it cannot)
    )
    oa = openai.AsyncOpenAI(base_url=stack.url, api_key="unused", max_retries=0)
    try:
        model = "0x" + stack.model_id.hex()
        stream = await oa.completions.create(
            model=model, prompt="hello world", max_tokens=10, temperature=0, stream=True
        )
        seen: list[str] = []
        with pytest.raises(openai.APIError) as failed:
            async for chunk in stream:
                seen.append(chunk.choices[0].text)
        assert proxy.tampered == 1
        assert "do not match" in str(failed.value.message)
        assert seen, "tokens streamed before the mismatch was found at the end"

        # the executor's own record is genuine: it settles once ...
        assert await stack.daemons["charlie"].direct.settle_now() == 1
        held = stack.daemons["charlie"].direct._records[(DAVE.public_key, 1)]
        t = held.ticket
        assert t.signature is not None
        again = held.direct_result(0)
        settle_call = channels.calls.settle(
            [
                types.ChannelSettlement(
                    account(DAVE), 1, [types.H256(t.model_id)], [again], t.signature
                )
            ]
        )
        # ... and a replay of the same settlement is refused on-chain
        replay = await chain.submit(settle_call, CHARLIE)
        assert isinstance(replay.error, channels.errors.TicketReplayed), replay.error

        # an expired ticket: the executor refuses to serve it, the chain refuses to settle it
        on_chain = await channel(chain, DAVE, CHARLIE)
        assert on_chain is not None
        now = await chain.head_number()
        request = {"model": model, "kind": "completion", "prompt": "x", "max_tokens": 4}
        commitment = prompt_hash(request)
        ticket = next_ticket(
            requester=DAVE.public_key,
            executor=CHARLIE.public_key,
            channel_id=on_chain.id,
            nonce=on_chain.nonce,
            head=bytes(on_chain.head.value),
            cumulative=on_chain.settled_cumulative,
            model_id=stack.model_id,
            prompt_hash=commitment,
            max_tokens=4,
            max_price=10**12,
            max_amount=10**9,
            expiry=max(0, now - 1),
        )
        signature = bytes(DAVE.sign(ticket_message(ticket.digest)))
        result = types.DirectResult(
            0,
            types.H256(commitment),
            4,
            10**12,
            10**9,
            ticket.expiry,
            types.H256(bytes(32)),
            3,
            4,
        )
        settlement = types.ChannelSettlement(
            account(DAVE), ticket.nonce, [types.H256(stack.model_id)], [result], signature
        )
        expired = await chain.submit(channels.calls.settle([settlement]), CHARLIE)
        assert isinstance(expired.error, channels.errors.TicketExpired), expired.error
        async with aiohttp.ClientSession() as session:
            body = {"request": request, "ticket": ticket.signed(signature).to_json()}
            async with session.post(
                f"http://127.0.0.1:{charlie_port}/v1/direct/generate", json=body
            ) as resp:
                assert resp.status == 400
                assert (await resp.json())["error"]["code"] == "bad_expiry"
            # a live ticket whose amount cannot pay for the prompt plus max_tokens: 402
            short = replace(
                ticket, expiry=now + 100, max_amount=1, cumulative=on_chain.settled_cumulative + 1
            )
            short = short.signed(bytes(DAVE.sign(ticket_message(short.digest))))
            body = {"request": request, "ticket": short.to_json()}
            async with session.post(
                f"http://127.0.0.1:{charlie_port}/v1/direct/generate", json=body
            ) as resp:
                assert resp.status == 402, await resp.text()
                error = (await resp.json())["error"]
                assert error["code"] == "ticket_amount_too_low"
                assert "+ 4 max_tokens cost" in error["message"]
        info = await chain.query(providers.storage.providers(account(CHARLIE)))
        assert info is not None
    finally:
        await oa.close()
        await stack.close()
        await proxy.close()


async def test_concurrent_streams_and_a_dropped_one_settle_in_one_extrinsic(
    tmp_path: Path,
    node: NodeThread,
    kubo: KuboDaemon,
    chain: ChainClient,
    model_cid: str,
) -> None:
    """Concurrent tickets to one executor may arrive in any order (earlier ones travel as
    links); a stream the client drops is stopped and settles as unused (nothing paid)."""
    stack = await start_stack(
        tmp_path, node, kubo, chain, model_cid, None, deposits={"bob": 10**15}
    )
    oa = openai.AsyncOpenAI(base_url=stack.url, api_key="unused", max_retries=0)
    try:
        model = "0x" + stack.model_id.hex()

        async def one(i: int) -> tuple[int, int]:
            got = await oa.completions.create(
                model=model, prompt=f"hello {i}", max_tokens=4 + i, temperature=0.7, seed=i
            )
            assert got.usage is not None
            return got.usage.prompt_tokens, got.usage.completion_tokens

        usages = await asyncio.gather(*(one(i) for i in range(4)))
        assert [c for _, c in usages] == [4, 5, 6, 7]
        # a long stream dropped after its first token
        stream = await oa.completions.create(
            model=model, prompt="hello world", max_tokens=200, temperature=0, stream=True
        )
        await anext(aiter(stream))
        await stream.close()
        direct = stack.daemons["bob"].direct

        async def dropped_stopped() -> bool:
            return bool(direct.status_fields()["queue_depth"] == 0)

        await wait_for(dropped_stopped, within=30)
        before = await token_balance(chain, DAVE, MODEL_CURRENCY)
        head = await chain.head_number()
        assert await direct.settle_now() == 5
        assert await chain.head_number() == head + 1  # one extrinsic, one block

        async def no_checks() -> bool:
            found = await channel(chain, DAVE, BOB)
            return found is not None and found.held == 0 and found.nonce == 5

        await wait_for(no_checks)
        costs = sum(expected_cost(p, c) for p, c in usages)
        after = await token_balance(chain, DAVE, MODEL_CURRENCY)
        assert after == (before[0], before[1] - costs)  # the dropped stream cost nothing
    finally:
        await oa.close()
        await stack.close()
