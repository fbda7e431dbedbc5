"""`/v1/embeddings` on the direct path with the real all-MiniLM-L6-v2, driven by the official
`openai` client: each input its own ticket, vectors verified against the executor's signed
hash, real semantics, and sampled direct validation of the settled embeddings."""

from __future__ import annotations

import math
from pathlib import Path

import openai
import pytest

from inference_engine.tiny import packaged_minilm
from ipfs_store import IpfsStore
from runtime_types import ChainClient
from tests.devnode.conftest import NodeThread
from tests.inference_gateway.helpers import (
    BOB,
    DAVE,
    MODEL_CURRENCY,
    channel,
    expected_cost,
    start_stack,
    token_balance,
    wait_for,
)
from tests.ipfs_store.conftest import KuboDaemon, store_config

pytestmark = pytest.mark.timeout(300)

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The new movie is awesome.",
]


def _cos(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


async def test_embeddings_over_the_direct_path_validate_and_settle(
    tmp_path: Path, node: NodeThread, kubo: KuboDaemon, chain: ChainClient
) -> None:
    async with IpfsStore(store_config(kubo.api_url)) as store:
        cid = str((await store.add(packaged_minilm())).cid)
    # reputation 0: every settled result is sampled for validation (Charlie validates Bob)
    stack = await start_stack(
        tmp_path, node, kubo, chain, cid, None,
        deposits={"bob": 10**15}, reputation={"bob": 0, "charlie": 0},
    )  # fmt: skip
    try:
        oa = openai.AsyncOpenAI(base_url=stack.url, api_key="unused", max_retries=0)
        model = "0x" + stack.model_id.hex()
        reply = await oa.embeddings.create(model=model, input=SENTENCES)
        vectors = [d.embedding for d in sorted(reply.data, key=lambda d: d.index)]
        assert [len(v) for v in vectors] == [384] * 3
        assert all(abs(math.fsum(x * x for x in v) - 1) < 1e-5 for v in vectors)
        assert _cos(vectors[0], vectors[1]) > 0.6 > 0.3 > _cos(vectors[0], vectors[2])
        single = await oa.embeddings.create(
            model=model, input=SENTENCES[2], encoding_format="float"
        )
        assert _cos(single.data[0].embedding, vectors[2]) > 1 - 1e-6
        assert reply.usage.prompt_tokens > len(SENTENCES) * 2  # [CLS] ... [SEP] each

        # a text request to an embedding model is a clear 400, not a retry
        with pytest.raises(openai.BadRequestError, match="embedding model"):
            await oa.completions.create(model=model, prompt="hello", max_tokens=4)
        with pytest.raises(openai.BadRequestError, match="input"):
            await oa.embeddings.create(model=model, input=[])

        dave_before = await token_balance(chain, DAVE, MODEL_CURRENCY)
        head = await chain.head_number()
        assert await stack.daemons["bob"].direct.settle_now() == 5  # 4 served + 1 refused link

        async def judged() -> bool:
            found = await channel(chain, DAVE, BOB)
            return found is not None and found.held == 0

        await wait_for(judged, within=120)
        outcomes: dict[str, int] = {}
        for number in range(head + 1, await chain.head_number() + 1):
            block = await chain.block(number)
            assert block is not None
            for e in block.events:
                if e.pallet == "Channels" and e.name.startswith("DirectValidation"):
                    outcomes[e.name] = outcomes.get(e.name, 0) + 1
        assert outcomes.get("DirectValidationPassed") == 4, outcomes
        assert "DirectValidationFailed" not in outcomes
        # only prompt tokens are charged for an embedding
        cost = sum(expected_cost(n, 0) for n in (reply.usage.prompt_tokens, single.usage.prompt_tokens))  # fmt: skip
        paid = dave_before[1] - (await token_balance(chain, DAVE, MODEL_CURRENCY))[1]
        assert paid <= cost + len(SENTENCES) + 1  # per-ticket rounding up
        assert paid >= cost
    finally:
        await stack.close()
