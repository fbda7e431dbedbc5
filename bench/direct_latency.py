"""The direct path's latency and on-chain bytes, against baselines measured in the same run.

Starts devnode (in this process, 1 s blocks), an offline Kubo, an executor (`ocw-daemon run`
as its own process) and a validator (`ocw_daemon.Daemon` here) on the CPU serving a tiny GPT-2
(4 layers), opens a payment channel from Dave to the executor, and runs the gateway (`DirectClient` behind the OpenAI-compatible server). Then, for the same prompt and
`max_tokens`:

* engine: `InferenceEngine.stream` in this process on the same model (the baseline): time to
  first token, and tokens per second over the whole request (tokens / time to the last one);
* gateway: the official `openai` client streaming through the gateway and the executor;
* on-chain: `InferenceClient.infer` (request, block, executor, result, block): time to first
  byte, which is the whole output at once.

Finally `--batch` direct inferences are settled in one `Channels.settle` and the on-chain bytes
per inference are read back from the blocks (the settle extrinsic plus every validation
verdict it caused), next to the on-chain request path's `request` + `submit_result` +
`submit_validation` (docs/pallets.md).

    .venv/bin/python bench/direct_latency.py [--requests 20] [--max-tokens 32] [--batch 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import openai  # noqa: E402

import inference_engine as ie  # noqa: E402
from devnode import DevNode, DevNodeConfig  # noqa: E402
from devnode._runtime import RUNTIME  # noqa: E402
from devnode.pallets._sizes import (  # noqa: E402
    inference_extrinsic_bytes,
    signed_extrinsic_bytes,
)
from inference_client import InferenceClient, InferenceClientConfig  # noqa: E402
from inference_engine.tiny import build_tiny_model  # noqa: E402
from inference_gateway import (  # noqa: E402
    DirectClient,
    DirectConfig,
    DirectRequest,
    GatewayServer,
)
from ipfs_store import IpfsStore, StoreConfig  # noqa: E402
from ocw_daemon import Daemon, load_encryption_key  # noqa: E402
from runtime_types import ChainClient, ClientConfig  # noqa: E402
from runtime_types.generated.devnode import BINDINGS  # noqa: E402
from tests.inference_gateway.helpers import direct_config, open_channel  # noqa: E402
from tests.ipfs_store.conftest import start_kubo  # noqa: E402
from tests.ocw_daemon.helpers import (  # noqa: E402
    BOB,
    CHARLIE,
    DAVE,
    free_port,
    register_model,
    register_provider,
    set_reputation,
    write_daemon_toml,
    write_keystore,
)
from tests.ocw_daemon.test_ocw_crash import spawn, wait_ready  # noqa: E402

PROMPT = "hello world"


def p50(values: list[float]) -> float:
    return statistics.median(values)


async def engine_once(engine: ie.InferenceEngine, i: int, max_tokens: int) -> tuple[float, float]:
    """(time to first token, tokens per second over the request) in this process."""
    params = ie.SamplingParams(max_tokens=max_tokens, ignore_eos=True)
    request = ie.GenerationRequest(ie.RequestId(f"bench-{i}"), PROMPT, params)
    start = time.perf_counter()
    first = last = 0.0
    count = 0
    async for event in engine.stream(request):
        if isinstance(event, ie.TokenChunk) and event.entry is not None:
            last = time.perf_counter()
            if count == 0:
                first = last
            count += 1
    return first - start, count / (last - start)


async def gateway_once(oa: openai.AsyncOpenAI, model: str, max_tokens: int) -> tuple[float, float]:
    """The same through the gateway and the executor, with the official client."""
    start = time.perf_counter()
    stream = await oa.completions.create(
        model=model,
        prompt=PROMPT,
        max_tokens=max_tokens,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    first = last = 0.0
    tokens = 0
    async for chunk in stream:
        if chunk.choices and not first:
            first = time.perf_counter()
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
            last = time.perf_counter()
    return first - start, tokens / (last - start)


async def latency(
    model_dir: Path, url: str, model: str, n: int, max_tokens: int
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Engine and gateway runs alternate, so a busy machine weighs on both alike."""
    loaded = await asyncio.to_thread(ie.load_model, model_dir, ie.EngineConfig(device="cpu"))
    e_ttft, e_rate, g_ttft, g_rate = [], [], [], []
    oa = openai.AsyncOpenAI(base_url=url, api_key="unused", max_retries=0)
    try:
        async with ie.InferenceEngine(loaded, ie.EngineConfig(device="cpu")) as engine:
            for i in range(n + 1):
                engine_run = await engine_once(engine, i, max_tokens)
                gateway_run = await gateway_once(oa, model, max_tokens)
                if i == 0:
                    continue  # warm-up (the executor loads the model here)
                e_ttft.append(engine_run[0])
                e_rate.append(engine_run[1])
                g_ttft.append(gateway_run[0])
                g_rate.append(gateway_run[1])
    finally:
        await oa.close()
    return e_ttft, e_rate, g_ttft, g_rate


async def main(n: int, max_tokens: int, batch: int, hidden: int, layers: int) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        kubo = start_kubo(tmp / "kubo")
        try:
            model_dir = build_tiny_model(tmp / "model", "gpt2", hidden=hidden, layers=layers)
            async with IpfsStore(StoreConfig(api_url=kubo.api_url)) as store:
                cid = str((await store.add(model_dir)).cid)
            async with (
                DevNode(DevNodeConfig(port=0, block_time=1.0)) as node,
                ChainClient(BINDINGS, ClientConfig(node.url, poll_interval=0.02)) as chain,
            ):
                model_id = await register_model(chain, cid)
                # Bob, the executor, is a real `ocw-daemon run` process (its event loop is not
                # this one's); Charlie runs in this process as the validator
                bob_port = free_port()
                bob_config = direct_config(tmp, "bob", node.url, kubo.api_url, bob_port, None)
                charlie_config = direct_config(
                    tmp, "charlie", node.url, kubo.api_url, free_port(), None
                )
                for key, config in ((BOB, bob_config), (CHARLIE, charlie_config)):
                    await register_provider(
                        chain, key, config.endpoint, [model_id],
                        encryption_key=load_encryption_key(config).public,  # sealed direct path
                    )  # fmt: skip
                    await set_reputation(chain, key, 100)
                toml = tmp / "bob.toml"
                write_daemon_toml(toml, bob_config, write_keystore(tmp / "bob.key", "//Bob"))
                with toml.open("a") as out:
                    out.write(f"direct_settle_interval_s = 3600.0\ndirect_settle_batch = {batch}\n")
                bob = spawn(toml, Path(tempfile.gettempdir()) / "direct_latency_executor.log")
                charlie = Daemon(charlie_config, CHARLIE)
                await charlie.start()
                await wait_ready(f"http://127.0.0.1:{bob_port}", bob)
                await open_channel(chain, DAVE, BOB, 10**16)
                client = await DirectClient(DirectConfig(chain_url=node.url), DAVE).connect()
                server = await GatewayServer(client).start("127.0.0.1", 0)
                model = "0x" + model_id.hex()
                try:
                    e_ttft, e_rate, g_ttft, g_rate = await latency(
                        model_dir, server.url, model, n, max_tokens
                    )
                    # the on-chain path on the same node (1 s blocks): the first byte is the
                    # whole output, after two blocks at least
                    onchain = []
                    async with InferenceClient(
                        InferenceClientConfig(chain_url=node.url, ipfs_api_url=kubo.api_url),
                        DAVE,
                    ) as infer:
                        for _ in range(3):
                            start = time.perf_counter()
                            await infer.infer(model, PROMPT, max_tokens=max_tokens, plaintext=True)
                            onchain.append(time.perf_counter() - start)
                    # bytes: Bob settles once `batch` direct inferences are served (the
                    # latency runs count), in one extrinsic
                    head = await chain.head_number()
                    for _ in range(batch - (n + 1)):
                        request = DirectRequest("completion", prompt=PROMPT, max_tokens=4)
                        async for _event in client.stream(model, request):
                            pass
                    settled = settle_bytes = verdict_bytes = checks = 0
                    deadline = time.monotonic() + 60
                    number = head
                    verdicts_until = None
                    while time.monotonic() < deadline:
                        if number >= await chain.head_number():
                            await asyncio.sleep(0.2)
                            continue
                        number += 1
                        block = await chain.block(number)
                        assert block is not None
                        for index, ext in enumerate(block.extrinsics):
                            names = [
                                r.name
                                for r in block.events
                                if r.extrinsic_index == index and r.pallet == "Channels"
                            ]
                            if "DirectSettled" in names:
                                settle_bytes += len(ext)
                                settled += names.count("DirectSettled")
                            elif {"DirectValidationPassed", "DirectValidationFailed"} & set(names):
                                verdict_bytes += len(ext)
                            checks += names.count("DirectValidationRequested")
                        if settled and verdicts_until is None:
                            verdicts_until = number + (25 if checks else 0)
                        if verdicts_until is not None and number >= verdicts_until:
                            break
                finally:
                    await server.close()
                    await client.close()
                    await charlie.close()
                    bob.terminate()
                    try:  # off the loop: devnode runs on it and the executor still talks to it
                        await asyncio.to_thread(bob.wait, 20)
                    except subprocess.TimeoutExpired:
                        print(
                            "bench: the executor did not stop on SIGTERM; killed", file=sys.stderr
                        )
                        bob.kill()
                        bob.wait()
        finally:
            kubo.stop()

    onchain_bytes = inference_extrinsic_bytes(4, max_tokens)
    print(
        f"direct path latency, {n} requests of {max_tokens} tokens (CPU, random GPT-2 "
        f"{hidden} wide x {layers} layers, loopback)"
    )
    print(f"  engine alone       : ttft p50 {p50(e_ttft) * 1000:7.1f} ms, {p50(e_rate):7.1f} tok/s")
    print(f"  gateway + executor : ttft p50 {p50(g_ttft) * 1000:7.1f} ms, {p50(g_rate):7.1f} tok/s")
    print(
        f"    ttft overhead {1000 * (p50(g_ttft) - p50(e_ttft)):+.1f} ms (aim <= 15 ms), "
        f"rate ratio {p50(g_rate) / p50(e_rate):.2f}x (aim >= 0.9x)"
    )
    print(
        f"  on-chain path      : time to first byte p50 {p50(onchain) * 1000:7.0f} ms "
        f"(1 s blocks), {p50(onchain) / p50(g_ttft):.0f}x the gateway's ttft"
    )
    print(f"on-chain bytes, {settled} direct inferences in one settlement:")
    print(
        f"  settle extrinsic {settle_bytes} B, verdicts {verdict_bytes} B ({checks} sampled at "
        f"reputation 100) -> {(settle_bytes + verdict_bytes) / max(1, settled):.1f} B per "
        f"inference (aim <= 100)"
    )
    verdict = signed_extrinsic_bytes(
        RUNTIME.encode_call("Channels", "submit_direct_validations", {"verdicts": [(2**40, True)]})
    )
    print(
        f"  with verdicts as sampled at reputation 100 (1 in 100, {verdict} B each): "
        f"{(settle_bytes + verdict) / max(1, settled):.1f} B per inference; at reputation 0 "
        f"(every result sampled, one verdict extrinsic each): "
        f"{(settle_bytes + verdict * settled) / max(1, settled):.1f} B"
    )
    print(
        f"  on-chain request path: {onchain_bytes.with_validation} B per inference with a "
        f"validation ({onchain_bytes.without_validation} without)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--batch", type=int, default=100)
    # a larger model makes per-token compute dominate, as with a real model on a GPU
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.max_tokens, args.batch, args.hidden, args.layers))
