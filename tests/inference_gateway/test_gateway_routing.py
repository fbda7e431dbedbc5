"""Routing: a provider that fails before the first token is retried elsewhere within the same
request; a model without a chat template is served on /v1/completions only."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import openai
import pytest
from aiohttp import web

from ipfs_store import IpfsStore
from runtime_types import ChainClient
from tests.devnode.conftest import NodeThread
from tests.inference_gateway.helpers import BOB, start_stack
from tests.ipfs_store.conftest import KuboDaemon, store_config
from tests.ocw_daemon.helpers import build_tiny_model, free_port, register_model

pytestmark = pytest.mark.timeout(300)


class FailingProxy:
    """Forwards reads to the daemon (its signed status looks healthy) but answers every
    generate request with a 503: a provider that fails before its first token."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.posts = 0
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            self.posts += 1
            return web.json_response({"error": {"code": "boom", "message": "down"}}, status=503)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.upstream}{request.path_qs}") as upstream,
        ):
            return web.Response(
                status=upstream.status,
                body=await upstream.read(),
                content_type=upstream.content_type,
            )


async def test_a_provider_failing_before_the_first_token_is_retried_elsewhere(
    tmp_path: Path,
    node: NodeThread,
    kubo: KuboDaemon,
    chain: ChainClient,
    model_cid: str,
) -> None:
    charlie_port = free_port()
    proxy = FailingProxy(f"http://127.0.0.1:{charlie_port}")
    await proxy.start()
    # Charlie ranks first (more weight), but fails every request before its first token
    stack = await start_stack(
        tmp_path,
        node,
        kubo,
        chain,
        model_cid,
        None,
        reputation={"bob": 0, "charlie": 100},
        endpoints={"charlie": proxy.url},
        ports={"charlie": charlie_port},
    )
    oa = openai.AsyncOpenAI(base_url=stack.url, api_key="unused", max_retries=0)
    try:
        model = "0x" + stack.model_id.hex()
        chunks = [
            c
            async for c in await oa.completions.create(
                model=model, prompt="hello world", max_tokens=5, stream=True
            )
        ]
        assert proxy.posts == 1
        assert "".join(c.choices[0].text for c in chunks) is not None
        whole = await oa.completions.create(model=model, prompt="hello", max_tokens=3)
        assert (whole.model_extra or {})["direct"]["executor"] == BOB.ss58_address
        assert proxy.posts == 1  # set aside: not tried again for a while
        assert await stack.daemons["bob"].direct.settle_now() == 2
    finally:
        await oa.close()
        await stack.close()
        await proxy.close()


async def test_a_model_without_a_chat_template_serves_completions_only(
    tmp_path: Path,
    node: NodeThread,
    kubo: KuboDaemon,
    chain: ChainClient,
    model_cid: str,
) -> None:
    plain_dir = build_tiny_model(tmp_path / "plain")  # a tokenizer, no chat template
    async with IpfsStore(store_config(kubo.api_url)) as store:
        plain_cid = str((await store.add(plain_dir)).cid)
    plain = await register_model(chain, plain_cid, b"plain")
    stack = await start_stack(tmp_path, node, kubo, chain, model_cid, None, extra_models=(plain,))
    try:
        oa = openai.AsyncOpenAI(base_url=stack.url, api_key="unused", max_retries=0)
        async with oa:
            with pytest.raises(openai.BadRequestError) as refused:
                await oa.chat.completions.create(
                    model="plain", messages=[{"role": "user", "content": "hi"}], max_tokens=3
                )
            assert refused.value.code == "no_chat_template"
            assert "/v1/completions" in refused.value.message
            done = await oa.completions.create(
                model="plain", prompt="hello world", max_tokens=3, temperature=0
            )
            assert done.usage is not None and done.usage.completion_tokens == 3
    finally:
        await stack.close()


async def test_a_ticket_near_its_expiry_is_settled_without_waiting_for_the_interval(
    tmp_path: Path,
    node: NodeThread,
    kubo: KuboDaemon,
    chain: ChainClient,
    model_cid: str,
) -> None:
    from inference_gateway import DirectClient, DirectConfig, DirectRequest
    from tests.inference_gateway.helpers import DAVE, channel, wait_for

    stack = await start_stack(
        tmp_path, node, kubo, chain, model_cid, None, deposits={"bob": 10**15}
    )
    short = await DirectClient(
        DirectConfig(chain_url=node.url, ticket_life_blocks=12), DAVE
    ).connect()
    try:
        request = DirectRequest("completion", prompt="hello", max_tokens=3)
        async for _ in short.stream("0x" + stack.model_id.hex(), request):
            pass
        found = await channel(chain, DAVE, BOB)
        assert found is not None and found.nonce == 0  # the interval is an hour in tests
        node.new_blocks(3)  # the chain moves on: the ticket is now close to its expiry

        async def settled() -> bool:
            now = await channel(chain, DAVE, BOB)
            return now is not None and now.nonce == 1

        await wait_for(settled, within=30)
    finally:
        await short.close()
        await stack.close()


async def test_an_executor_that_lost_its_tickets_is_sent_the_chain_again(
    tmp_path: Path,
    node: NodeThread,
    kubo: KuboDaemon,
    chain: ChainClient,
    model_cid: str,
) -> None:
    """The executor keeps unsettled tickets in memory: SIGKILLed and restarted it cannot
    extend the chain, says so (`ticket_gap`), and the gateway resends the unsettled tickets as
    links; what the executor lost settles as unused, the new request is paid."""
    import signal

    from tests.inference_gateway.helpers import (
        DAVE,
        MODEL_CURRENCY,
        bob_process_toml,
        channel,
        expected_cost,
        token_balance,
        wait_for,
    )
    from tests.ocw_daemon.test_ocw_crash import spawn, wait_ready

    bob_port = free_port()
    stack = await start_stack(
        tmp_path,
        node,
        kubo,
        chain,
        model_cid,
        None,
        deposits={"bob": 10**15},
        ports={"bob": bob_port},
        run=(),
    )
    toml = bob_process_toml(tmp_path, node.url, kubo.api_url, bob_port, None)
    proc = spawn(toml, tmp_path / "bob.log")
    oa = openai.AsyncOpenAI(base_url=stack.url, api_key="unused", max_retries=0)
    try:
        await wait_ready(f"http://127.0.0.1:{bob_port}", proc)
        model = "0x" + stack.model_id.hex()
        for _ in range(2):
            await oa.completions.create(model=model, prompt="hello", max_tokens=3)
        proc.send_signal(signal.SIGKILL)  # its two served tickets were never settled
        proc.wait()
        proc = spawn(toml, tmp_path / "bob.log")
        await wait_ready(f"http://127.0.0.1:{bob_port}", proc)
        stack.client._quarantine.clear()  # the test does not wait out the quarantine
        before = await token_balance(chain, DAVE, MODEL_CURRENCY)
        third = await oa.completions.create(model=model, prompt="hello", max_tokens=3)
        assert third.usage is not None
        assert (third.model_extra or {})["direct"]["ticket_nonce"] == 3
        proc.send_signal(signal.SIGTERM)  # a clean stop settles what it served
        proc.wait(60)

        async def settled() -> bool:
            found = await channel(chain, DAVE, BOB)
            return found is not None and found.nonce == 3 and found.held == 0

        await wait_for(settled)
        cost = expected_cost(third.usage.prompt_tokens, third.usage.completion_tokens)
        after = await token_balance(chain, DAVE, MODEL_CURRENCY)
        assert after == (before[0], before[1] - cost)
    finally:
        await oa.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        await stack.close()
