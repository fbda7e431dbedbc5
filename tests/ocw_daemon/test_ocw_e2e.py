"""End to end on a chain (devnode, and the Rust runtime: `on_both_chains`), Kubo and Redis: two
daemons (executor and validator each), exact payouts, outputs served to the entitled only, and
20 concurrent requests."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

import inference_engine as ie
from ocw_daemon import Daemon, JobState, ValidationState, sign_output_request
from runtime_types import ChainClient
from tests.cache.helpers import RedisServer
from tests.chains import ChainUnderTest, on_both_chains
from tests.ipfs_store.conftest import KuboDaemon
from tests.ocw_daemon.helpers import (
    ALICE,
    AUTHOR_SHARE,
    BOB,
    CHARLIE,
    DAVE,
    EVE,
    MODEL_CURRENCY,
    PRICE,
    STAKE,
    STAKE_CURRENCY,
    daemon_config,
    free_port,
    native_free,
    register_model,
    register_provider,
    request,
    scan,
    set_reputation,
    token_balance,
    wait_terminal,
)
from tests.waiting import until

pytestmark = [pytest.mark.timeout(240), on_both_chains]


async def start_pair(
    tmp_path: Path, node: ChainUnderTest, kubo: KuboDaemon, chain: ChainClient, cid: str,
    redis_url: str | None,
) -> tuple[bytes, Daemon, Daemon]:  # fmt: skip
    model_id = await register_model(chain, cid)
    daemons = []
    for who, name in ((BOB, "bob"), (CHARLIE, "charlie")):
        port = free_port()
        config = daemon_config(tmp_path, name, node.url, kubo.api_url, port, redis_url)
        await register_provider(chain, who, config.endpoint, [model_id])
        daemons.append(Daemon(config, who))
    for d in daemons:
        await d.start()
    return model_id, daemons[0], daemons[1]


async def test_request_result_validation_and_exact_payouts(
    tmp_path: Path,
    node: ChainUnderTest,
    kubo: KuboDaemon,
    chain: ChainClient,
    tiny_cid: str,
    redis_server: RedisServer,
) -> None:
    model_id, bob, charlie = await start_pair(
        tmp_path, node, kubo, chain, tiny_cid, redis_server.url
    )
    try:
        # reputation 0 means validation probability 1: a validator is always drawn
        await set_reputation(chain, BOB, 0)
        await set_reputation(chain, CHARLIE, 0)
        who = (ALICE, BOB, CHARLIE, DAVE)
        tokens_before = {k.ss58_address: await token_balance(chain, k, MODEL_CURRENCY) for k in who}
        stake_before = {k.ss58_address: await token_balance(chain, k, STAKE_CURRENCY) for k in who}
        native_before = {k.ss58_address: await native_free(chain, k) for k in who}
        first = await chain.head_number() + 1
        rid = await request(chain, DAVE, model_id, b"hello world", max_tokens=6)
        final = (await wait_terminal(chain, [rid], within=90))[rid]
        assert type(final.state).__variant_name__ == "Completed"
        last = await chain.head_number()
        # both daemons processed the settling block, so the job and verdict records are final:
        # a daemon processes blocks one after another, and `head` moves when one begins
        await until(lambda: min(bob.head, charlie.head) > last, 30, "the daemons pass the head")
        log = await scan(chain, first, last)

        (submitted,) = log.events["ResultSubmitted"]
        (requested,) = log.events["InferenceRequested"]
        (validation,) = log.events["ValidationRequested"]
        (passed,) = log.events["ValidationPassed"]
        (paid,) = log.events["InferencePaid"]
        assert not log.events["RequestExpired"] and not log.events["ValidationFailed"]
        executor = BOB if bytes(requested.executor.value) == BOB.public_key else CHARLIE
        validator = CHARLIE if executor is BOB else BOB
        assert bytes(validation.validator.value) == validator.public_key
        assert bytes(passed.validator.value) == validator.public_key

        # the executor's output: the engine's canonical encoding, hashed on-chain
        exec_daemon, val_daemon = (bob, charlie) if executor is BOB else (charlie, bob)
        job = await exec_daemon.store.job(rid)
        assert job is not None and job.state is JobState.COMPLETED and job.output is not None
        assert ie.output_hash(job.output) == bytes(submitted.output_hash.value)
        decoded = ie.decode_output(job.output)
        assert decoded.request_id == str(rid) and len(decoded.tokens) == 6
        assert submitted.completion_tokens == 6
        verdict = await val_daemon.store.validation(rid)
        assert verdict is not None and verdict.verdict is True
        assert verdict.state in (ValidationState.SUBMITTED, ValidationState.DONE)

        # money, exactly
        used = int(submitted.prompt_tokens) + int(submitted.completion_tokens)
        escrow = -(-(4 + 6) * PRICE // 1000)
        cost = min(escrow, -(-used * PRICE // 1000))
        author_cut = cost * AUTHOR_SHARE // 1_000_000
        assert (paid.cost, paid.author_amount, paid.executor_amount, paid.refund) == (
            cost, author_cut, cost - author_cut, escrow - cost,
        )  # fmt: skip
        expected = {
            ALICE.ss58_address: (tokens_before[ALICE.ss58_address][0] + author_cut, 0),
            executor.ss58_address: (
                tokens_before[executor.ss58_address][0] + cost - author_cut,
                0,
            ),
            validator.ss58_address: tokens_before[validator.ss58_address],
            DAVE.ss58_address: (tokens_before[DAVE.ss58_address][0] - cost, 0),
        }
        for k in who:
            assert await token_balance(chain, k, MODEL_CURRENCY) == expected[k.ss58_address]
            # stakes untouched (no slash), nothing else moved in the stake currency
            assert await token_balance(chain, k, STAKE_CURRENCY) == stake_before[k.ss58_address]
            # native balances moved by exactly the fees each account paid
            fee = log.fees.get(k.public_key, 0)
            assert await native_free(chain, k) == native_before[k.ss58_address] - fee
        assert stake_before[executor.ss58_address][1] == STAKE
        assert log.fees[executor.public_key] > 0 and log.fees[validator.public_key] > 0

        # the output endpoint: the requester gets it, a stranger does not
        url = f"{exec_daemon.http.url}/outputs/{rid}"
        async with aiohttp.ClientSession() as session:
            now = int(time.time() * 1000)
            async with session.get(url, headers=sign_output_request(DAVE, rid, now)) as resp:
                assert resp.status == 200
                assert await resp.read() == job.output
            async with session.get(url, headers=sign_output_request(EVE, rid, now)) as resp:
                assert resp.status == 403
            async with session.get(f"{exec_daemon.http.url}/metrics") as resp:
                text = await resp.text()
                assert 'ocw_jobs{role="executor",state="completed"} 1.0' in text
                assert 'ocw_tokens_total{kind="completion"} 6.0' in text
                assert "ocw_earnings_total" in text
            async with session.get(f"{exec_daemon.http.url}/healthz") as resp:
                assert (await resp.json())["status"] == "ok"
    finally:
        await bob.close()
        await charlie.close()


async def test_twenty_concurrent_requests_across_two_daemons(
    tmp_path: Path, node: ChainUnderTest, kubo: KuboDaemon, chain: ChainClient, tiny_cid: str
) -> None:
    model_id, bob, charlie = await start_pair(tmp_path, node, kubo, chain, tiny_cid, None)
    try:
        prompts = [f"hello {i} chain".encode() for i in range(20)]
        ids = await asyncio.gather(
            *(
                request(chain, DAVE if i % 2 else EVE, model_id, p, deadline_blocks=120)
                for i, p in enumerate(prompts)
            )
        )
        final = await wait_terminal(chain, ids, within=150)
        states = {rid: type(info.state).__variant_name__ for rid, info in final.items()}
        assert set(states.values()) == {"Completed"}, states
        executed = {
            d.keypair.ss58_address: [j for j in await d.store.jobs() if j.request_id in ids]
            for d in (bob, charlie)
        }
        assert sum(len(v) for v in executed.values()) == 20
        assert all(executed.values()), "both daemons executed some of the requests"
    finally:
        await bob.close()
        await charlie.close()


async def test_unreachable_executor_output_comes_on_chain_via_request_output(
    tmp_path: Path, node: ChainUnderTest, kubo: KuboDaemon, chain: ChainClient, tiny_cid: str
) -> None:
    """Both daemons announce an endpoint nobody listens on: the validator cannot fetch the
    output, calls `request_output`, the executor answers with `provide_output`, and the
    validator validates the output taken from that extrinsic."""
    model_id = await register_model(chain, tiny_cid)
    daemons = []
    for who, name in ((BOB, "bob"), (CHARLIE, "charlie")):
        config = daemon_config(
            tmp_path, name, node.url, kubo.api_url, free_port(), fetch_timeout_s=0.5
        )
        await register_provider(chain, who, f"http://127.0.0.1:{free_port()}", [model_id])
        daemons.append(await Daemon(config, who).start())
    try:
        first = await chain.head_number() + 1
        rid = await request(chain, DAVE, model_id, b"hello world")
        final = (await wait_terminal(chain, [rid], within=90))[rid]
        assert type(final.state).__variant_name__ == "Completed"
        log = await scan(chain, first, await chain.head_number())
        assert [int(e.request_id) for e in log.events["OutputRequested"]] == [rid]
        assert [int(e.request_id) for e in log.events["OutputProvided"]] == [rid]
        assert [int(e.request_id) for e in log.events["ValidationPassed"]] == [rid]
    finally:
        for d in daemons:
            await d.close()
