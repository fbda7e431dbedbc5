"""The direct path under faults: a provider SIGKILLed mid-stream, a falsified direct result
caught by sampled validation (and an honest one passed), and an overdraw attempt across two
executors that fails for the requester only."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import openai
import pytest

import inference_engine as ie
from inference_gateway import DirectRequest, InsufficientCredit, StreamEnd
from runtime_types import ChainClient
from runtime_types.generated.devnode import channels, providers
from tests.cache.helpers import RedisServer
from tests.devnode.conftest import NodeThread
from tests.inference_gateway.helpers import (
    ALICE,
    AUTHOR_SHARE,
    BOB,
    CHARLIE,
    DAVE,
    MODEL_CURRENCY,
    PPM,
    bob_process_toml,
    channel,
    expected_cost,
    fund,
    open_channel,
    start_stack,
    token_balance,
    wait_for,
)
from tests.ipfs_store.conftest import KuboDaemon
from tests.ocw_daemon.helpers import STAKE, STAKE_CURRENCY, account, free_port
from tests.ocw_daemon.test_ocw_crash import spawn, wait_ready

pytestmark = pytest.mark.timeout(400)


async def test_a_provider_killed_mid_stream_fails_that_stream_and_the_next_goes_elsewhere(
    tmp_path: Path,
    node: NodeThread,
    kubo: KuboDaemon,
    chain: ChainClient,
    model_cid: str,
    redis_server: RedisServer,
) -> None:
    bob_port = free_port()
    # Bob runs as a real `ocw-daemon run` process (so it can be SIGKILLed); Charlie in-process
    stack = await start_stack(
        tmp_path,
        node,
        kubo,
        chain,
        model_cid,
        redis_server.url,
        reputation={"bob": 100, "charlie": 0},
        ports={"bob": bob_port},
        run=("charlie",),
    )
    toml = bob_process_toml(tmp_path, node.url, kubo.api_url, bob_port, redis_server.url)
    proc = spawn(toml, tmp_path / "bob.log")
    oa = openai.AsyncOpenAI(base_url=stack.url, api_key="unused", max_retries=0)
    try:
        await wait_ready(f"http://127.0.0.1:{bob_port}", proc)
        model = "0x" + stack.model_id.hex()
        # Bob ranks first (more weight at equal load); its stream dies after the first token
        stream = await oa.completions.create(
            model=model, prompt="hello world", max_tokens=200, temperature=0, stream=True
        )
        received = []
        with pytest.raises(openai.APIError) as failed:
            async for chunk in stream:
                received.append(chunk)
                if len(received) == 1:
                    proc.send_signal(signal.SIGKILL)
        assert received, "the first token arrived before the kill"
        assert len(received) < 200
        assert "mid" in str(failed.value.message) or "broke" in str(failed.value.message)
        # the next request is routed to Charlie and completes
        whole = await oa.completions.create(
            model=model, prompt="hello world", max_tokens=5, temperature=0
        )
        assert whole.usage is not None and whole.usage.completion_tokens == 5
        direct = (whole.model_extra or {})["direct"]
        assert direct["executor"] == CHARLIE.ss58_address
    finally:
        await oa.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        await stack.close()


async def test_sampled_direct_results_pass_and_a_falsified_one_is_slashed(
    tmp_path: Path,
    node: NodeThread,
    kubo: KuboDaemon,
    chain: ChainClient,
    model_cid: str,
) -> None:
    # reputation 0: every settled result is sampled; Charlie is the only possible validator
    stack = await start_stack(
        tmp_path,
        node,
        kubo,
        chain,
        model_cid,
        None,
        deposits={"bob": 10**15},
        reputation={"bob": 0, "charlie": 0},
    )
    try:
        ends: list[StreamEnd] = []
        for prompt in ("hello world", "the quick brown fox"):
            request = DirectRequest("completion", prompt=prompt, max_tokens=6, temperature=0.0)
            async for event in stack.client.stream("0x" + stack.model_id.hex(), request):
                if isinstance(event, StreamEnd):
                    ends.append(event)
        assert [e.executor for e in ends] == [BOB.ss58_address] * 2
        # Bob cheats on the second: a record with one token changed, and its hash, is what it
        # settles and hands to the validator
        bob = stack.daemons["bob"]
        held = bob.direct._channels[DAVE.public_key].tickets[2]
        assert held.output is not None
        record = ie.decode_output(held.output)
        assert isinstance(record, ie.GenerationOutput)
        forged_tokens = (record.tokens[0] + 1) % 300, *record.tokens[1:]
        first = ie.TokenLogprobs(
            forged_tokens[0], record.logprobs[0].logprob, record.logprobs[0].top
        )
        forged = ie.encode_output(
            ie.GenerationOutput(
                record.request_id,
                record.prompt_token_count,
                tuple(forged_tokens),
                record.text,
                (first, *record.logprobs[1:]),
                record.finish_reason,
                record.top_logprobs,
            )
        )
        held.output, held.output_hash = forged, ie.output_hash(forged)
        stake_before = await token_balance(chain, BOB, STAKE_CURRENCY)
        dave_before = await token_balance(chain, DAVE, MODEL_CURRENCY)
        author_before = await token_balance(chain, ALICE, MODEL_CURRENCY)
        head = await chain.head_number()
        assert await bob.direct.settle_now() == 2

        async def both_judged() -> bool:
            found = await channel(chain, DAVE, BOB)
            return found is not None and found.held == 0

        await wait_for(both_judged, within=90)
        outcomes: dict[str, list[Any]] = {}
        for number in range(head + 1, await chain.head_number() + 1):
            block = await chain.block(number)
            assert block is not None
            for e in block.events:
                if e.pallet == "Channels" and e.name in (
                    "DirectValidationPassed",
                    "DirectValidationFailed",
                    "DirectValidationRequested",
                ):
                    outcomes.setdefault(e.name, []).append(e.event)
        assert len(outcomes["DirectValidationRequested"]) == 2
        assert [bytes(e.validator.value) for e in outcomes["DirectValidationRequested"]] == [
            CHARLIE.public_key
        ] * 2
        assert len(outcomes["DirectValidationPassed"]) == 1
        assert len(outcomes["DirectValidationFailed"]) == 1
        slashed = int(outcomes["DirectValidationFailed"][0].slashed)
        assert slashed == STAKE * 100_000 // PPM
        assert (await token_balance(chain, BOB, STAKE_CURRENCY))[1] == stake_before[1] - slashed
        info = await chain.query(providers.storage.providers(account(BOB)))
        assert info is not None and info.reputation == 0
        # the requester paid for the honest result only, with the usual split
        cost = expected_cost(ends[0].prompt_tokens, ends[0].completion_tokens)
        assert await token_balance(chain, DAVE, MODEL_CURRENCY) == (
            dave_before[0],
            dave_before[1] - cost,
        )
        author = (await token_balance(chain, ALICE, MODEL_CURRENCY))[0] - author_before[0]
        assert author == cost * AUTHOR_SHARE // PPM
    finally:
        await stack.close()


async def test_an_overdraw_across_two_executors_fails_for_the_requester_only(
    tmp_path: Path,
    node: NodeThread,
    kubo: KuboDaemon,
    chain: ChainClient,
    model_cid: str,
) -> None:
    from substrateinterface import Keypair

    from inference_gateway import DirectClient, DirectConfig

    poor = Keypair.create_from_uri("//DirectPoor")
    funds = 1_300_000  # above the existential deposit (1_000_000)
    stack = await start_stack(tmp_path, node, kubo, chain, model_cid, None, deposits={})
    client = None
    try:
        await fund(chain, poor, 10**15, funds)
        per_channel = 100_000  # two requests' worth of max_amount each (46_000 apiece)
        await open_channel(chain, poor, BOB, per_channel)
        await open_channel(chain, poor, CHARLIE, per_channel)
        # more credit than is free cannot be locked up: the requester's call fails
        receipt = await chain.submit(
            channels.calls.open_channel(account(BOB), MODEL_CURRENCY, funds), poor
        )
        assert not receipt.success and "BalanceTooLow" in type(receipt.error).__name__
        client = await DirectClient(DirectConfig(chain_url=node.url), poor).connect()
        ends: list[StreamEnd] = []
        refused = None
        for _ in range(6):
            request = DirectRequest("completion", prompt="hello world", max_tokens=4)
            try:
                async for event in client.stream("0x" + stack.model_id.hex(), request):
                    if isinstance(event, StreamEnd):
                        ends.append(event)
            except InsufficientCredit as exc:
                refused = exc
                break
        assert refused is not None, "credit ran out"
        assert len(ends) == 4  # two per channel, concurrent channels never overdraw
        assert {e.executor for e in ends} == {BOB.ss58_address, CHARLIE.ss58_address}
        before = {
            k.ss58_address: await token_balance(chain, k, MODEL_CURRENCY)
            for k in (BOB, CHARLIE, poor)
        }
        # both executors settle everything they served, in full
        assert await stack.settle() == 4

        async def settled() -> bool:
            found = [await channel(chain, poor, k) for k in (BOB, CHARLIE)]
            return all(c is not None and c.held == 0 and c.nonce == 2 for c in found)

        await wait_for(settled)
        costs = [expected_cost(e.prompt_tokens, e.completion_tokens) for e in ends]
        after = {
            k.ss58_address: await token_balance(chain, k, MODEL_CURRENCY)
            for k in (BOB, CHARLIE, poor)
        }
        earned = sum(after[k][0] - before[k][0] for k in (BOB.ss58_address, CHARLIE.ss58_address))
        assert earned == sum(c - c * AUTHOR_SHARE // PPM for c in costs)
        assert after[poor.ss58_address][1] == 2 * per_channel - sum(costs)
    finally:
        if client is not None:
            await client.close()
        await stack.close()
