"""InferenceClient against a real chain (devnode and the Rust runtime: `chain_kind`) and Kubo: the honest paths with the real daemon as the
executor, misbehaving executors (silent, tampering, withholding, IPFS-only) with the stand-in of
client_support.py."""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from client_support import (
    ALICE,
    AUTHOR_SHARE,
    BOB,
    CHARLIE,
    CURRENCY,
    PRICE,
    Env,
    StandInExecutor,
    make_env,
)

import inference_engine as ie
from devstack import LocalKubo
from inference_client import (
    InferenceClient,
    ModelUnavailable,
    OutputTampered,
    OutputUnavailable,
    RequestFailed,
    RequestRejected,
)
from ocw_daemon import Daemon
from runtime_types import ChainClient, ClientConfig
from runtime_types.generated import devnode as rt
from tests.chains import ChainKind

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def env(
    tmp_path_factory: pytest.TempPathFactory, kubo: LocalKubo, chain_kind: ChainKind
) -> Iterator[Env]:
    """On devnode and on the Rust runtime (`chain_kind`)."""
    yield from make_env(tmp_path_factory, kubo, chain_kind)


async def tokens(env: Env, who: Any) -> rt.types.OrmlTokensAccountData:
    async with ChainClient(rt.BINDINGS, ClientConfig(env.node.url)) as chain:
        return await chain.query(
            rt.tokens.storage.accounts(rt.types.AccountId32(who.public_key), CURRENCY)
        )


def expected_output(env: Env, rid: int, prompt: str, max_tokens: int) -> ie.GenerationOutput:
    request = ie.GenerationRequest(
        ie.RequestId(str(rid)), prompt, ie.SamplingParams(max_tokens=max_tokens)
    )
    return ie.generate_batch(env.model, [request])[0]


async def test_infer_pays_exactly_and_returns_the_engines_output(env: Env, daemon: Daemon) -> None:
    prompt = "the quick brown fox"
    alice0, bob0, charlie0 = [await tokens(env, k) for k in (ALICE, BOB, CHARLIE)]
    async with InferenceClient(env.config(), ALICE) as client:
        result = await client.infer(env.model_id, prompt, max_tokens=6, plaintext=True)
    want = await asyncio.to_thread(expected_output, env, result.request_id, prompt, 6)
    assert result.text == want.text and result.tokens == want.tokens
    assert result.prompt_tokens == want.prompt_token_count
    assert result.completion_tokens == len(want.tokens) <= 6
    assert result.source == "executor"
    assert result.output_hash == "0x" + ie.output_hash(ie.encode_output(want)).hex()
    used = result.prompt_tokens + result.completion_tokens
    assert result.cost == math.ceil(used * PRICE / 1000)
    escrow = math.ceil((len(prompt.encode()) + 1 + 6) * PRICE / 1000)
    assert result.refund == escrow - result.cost
    alice1, bob1, charlie1 = [await tokens(env, k) for k in (ALICE, BOB, CHARLIE)]
    author_cut = result.cost * AUTHOR_SHARE // 1_000_000
    assert alice1.free == alice0.free - result.cost and alice1.reserved == alice0.reserved
    assert charlie1.free == charlie0.free + author_cut
    assert bob1.free == bob0.free + result.cost - author_cut
    assert result.executor == BOB.ss58_address  # the daemon executed it and served the output


async def test_large_prompt_goes_by_cid_and_output_by_ipfs(
    env: Env, executor: StandInExecutor
) -> None:
    prompt = " ".join(["hello chain, hello inference engine"] * 40)  # > MaxInlineInput
    assert len(prompt.encode()) > rt.inference.constants.MAX_INLINE_INPUT
    executor.expect(prompt, "ipfs")
    async with InferenceClient(env.config(), ALICE) as client:
        submitted = await client.submit(env.model_id, prompt, max_tokens=3, plaintext=True)
        assert submitted.input_cid is not None
        settlement = await client.wait(submitted)
        result = await client.fetch_result(submitted, settlement)
    assert result.source == "ipfs"
    want = await asyncio.to_thread(expected_output, env, result.request_id, prompt, 3)
    assert result.tokens == want.tokens
    # The executor refused nothing: it simply had no HTTP copy (404), so IPFS was used.
    assert [s[2] for s in executor.served] == [404, 404]


async def test_large_prompt_by_cid_is_read_from_ipfs_by_the_daemon(
    env: Env, daemon: Daemon
) -> None:
    prompt = " ".join(["the daemon reads this prompt from IPFS"] * 40)  # > MaxInlineInput
    assert len(prompt.encode()) > rt.inference.constants.MAX_INLINE_INPUT
    async with InferenceClient(env.config(), ALICE) as client:
        submitted = await client.submit(env.model_id, prompt, max_tokens=3, plaintext=True)
        assert submitted.input_cid is not None
        settlement = await client.wait(submitted)
        result = await client.fetch_result(submitted, settlement)
    assert result.source == "executor" and result.executor == BOB.ss58_address
    want = await asyncio.to_thread(expected_output, env, result.request_id, prompt, 3)
    assert result.tokens == want.tokens


async def test_tampered_bytes_from_the_executor_raise_output_tampered(
    env: Env, executor: StandInExecutor
) -> None:
    prompt = "validators re-run the model"
    executor.expect(prompt, "tamper")
    async with InferenceClient(env.config(), ALICE) as client:
        with pytest.raises(OutputTampered) as caught:
            await client.infer(env.model_id, prompt, max_tokens=4, plaintext=True)
    assert caught.value.source == "executor"
    assert "does not match the on-chain hash" in str(caught.value)


async def test_tampered_executor_with_an_honest_ipfs_copy_still_succeeds(
    env: Env, executor: StandInExecutor
) -> None:
    prompt = "numbers 0123456789"
    executor.expect(prompt, "tamper+ipfs")
    async with InferenceClient(env.config(), ALICE) as client:
        result = await client.infer(env.model_id, prompt, max_tokens=4, plaintext=True)
    assert result.source == "ipfs"
    want = await asyncio.to_thread(expected_output, env, result.request_id, prompt, 4)
    assert result.text == want.text


async def test_withheld_output_is_unavailable_after_bounded_attempts(
    env: Env, executor: StandInExecutor
) -> None:
    prompt = "punctuation .,;:!? are tokens too"
    executor.expect(prompt, "withhold")
    async with InferenceClient(env.config(fetch_attempts=3), ALICE) as client:
        with pytest.raises(OutputUnavailable) as caught:
            await client.infer(env.model_id, prompt, max_tokens=2, plaintext=True)
    assert caught.value.attempts == ("executor: HTTP 404",) * 3
    assert [s[2] for s in executor.served] == [404] * 3


async def test_silent_executor_expires_with_full_refund(
    env: Env, executor: StandInExecutor
) -> None:
    prompt = "a model that came from a stranger"
    executor.expect(prompt, "silent")
    alice0 = await tokens(env, ALICE)
    async with InferenceClient(env.config(deadline_blocks=2), ALICE) as client:
        submitted = await client.submit(env.model_id, prompt, max_tokens=4, plaintext=True)
        with pytest.raises(RequestFailed) as caught:
            await client.wait(submitted)
    assert caught.value.state == "Expired" and caught.value.event == "RequestExpired"
    assert caught.value.request_id == submitted.request_id
    assert caught.value.refund == submitted.escrow > 0
    alice1 = await tokens(env, ALICE)
    assert (alice1.free, alice1.reserved) == (alice0.free, alice0.reserved)


async def test_price_above_maximum_and_unknown_model_are_typed(env: Env) -> None:
    """Refused when placed: no executor is involved."""
    async with InferenceClient(env.config(), ALICE) as client:
        with pytest.raises(RequestRejected) as caught:
            await client.submit(
                env.model_id, "hi", max_tokens=2, plaintext=True, max_price_per_1k_tokens=PRICE - 1
            )
        assert caught.value.error == "PriceAboveMaximum"
        with pytest.raises(ModelUnavailable):
            await client.submit("0x" + "ab" * 32, "hi", max_tokens=2, plaintext=True)


async def test_infer_cli_prints_json(env: Env, daemon: Daemon) -> None:
    prompt = "hello world"
    environ = {
        **os.environ,
        "INFER_KEY_URI": "//Alice",
        "INFER_CHAIN_URL": env.node.url,
        "INFER_IPFS_API_URL": env.kubo.api_url,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "inference_client",
        "--model",
        env.model_id,
        "--prompt",
        prompt,
        "--max-tokens",
        "3",
        "--json",
        "--plaintext",
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 90)
    finally:
        if proc.returncode is None:  # timed out: leave no CLI behind
            proc.kill()
            await asyncio.wait_for(proc.wait(), 10)
    assert proc.returncode == 0, err.decode()
    result = json.loads(out)
    want = await asyncio.to_thread(expected_output, env, result["request_id"], prompt, 3)
    assert result["text"] == want.text and result["tokens"] == list(want.tokens)
    assert result["cost"] == math.ceil((want.prompt_token_count + len(want.tokens)) * PRICE / 1000)
    assert "//Alice" not in err.decode()
