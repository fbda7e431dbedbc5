"""The cost of sealing next to the inference it rides on (docs/privacy.md).

Builds a small random-weight GPT-2 (4 layers, 256 wide; as bench/engine_throughput.py), times a
64-token generation on the CPU through `InferenceEngine` (the baseline, in the same run), then
the sealing work of one sealed on-chain request with the real output record of that
generation:

  requester  seal the prompt to N providers (one content key, N wraps), open the output
  executor   open its wrap and the input, seal the output to the requester and to itself
  validator  the executor re-seals prompt and output to it; it opens and checks commitments
  stream     per streamed chunk (one token's text): seal + open one secretstream frame

and prints each beside the generation time, as a percentage (aim: the whole request below 1 %).

    .venv/bin/python bench/sealing.py [--tokens 64] [--providers 1,8,64] [--rounds 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# this script's name is the package's: take bench/ off the path so `import sealing` finds it
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import torch  # noqa: E402
import transformers  # noqa: E402

import sealing  # noqa: E402
from inference_engine import (  # noqa: E402
    EngineConfig,
    GenerationRequest,
    InferenceEngine,
    RequestId,
    SamplingParams,
    encode_record,
    load_model,
)
from sealing import Context, Role  # noqa: E402

MODEL = os.urandom(32)
REQUESTER = os.urandom(32)
PROMPT = ("Explain how a payment channel settles many inferences at once. " * 6).encode()


def build(directory: Path) -> Path:
    config = transformers.GPT2Config(
        vocab_size=8192, n_positions=512, n_embd=256, n_layer=4, n_head=4, eos_token_id=0
    )
    torch.manual_seed(0)
    transformers.GPT2LMHeadModel(config).save_pretrained(str(directory), safe_serialization=True)
    return directory


def per_call(fn: Callable[[], object], rounds: int) -> float:
    """Median seconds per call over `rounds` calls (after one warm-up)."""
    fn()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def generation_s(directory: Path, tokens: int) -> tuple[float, bytes]:
    model = load_model(directory, EngineConfig(device="cpu"))
    engine = InferenceEngine(model, EngineConfig(device="cpu"))
    engine.start()
    try:
        params = SamplingParams(max_tokens=tokens, ignore_eos=True)
        prompt = tuple((7 * j) % 8000 + 1 for j in range(16))
        await engine.generate(GenerationRequest(RequestId("warm"), prompt, params))
        runs = []
        output = None
        for i in range(3):
            started = time.perf_counter()
            output = await engine.generate(GenerationRequest(RequestId(str(i)), prompt, params))
            runs.append(time.perf_counter() - started)
        assert output is not None and len(output.tokens) == tokens
        return statistics.median(runs), encode_record(output)
    finally:
        await engine.close()


def request_costs(record: bytes, providers: int, rounds: int) -> dict[str, float]:
    keys = [sealing.EncryptionKey.generate() for _ in range(providers)]
    accounts = [os.urandom(32) for _ in range(providers)]
    executor, executor_account = keys[0], accounts[0]
    validator = sealing.EncryptionKey.generate()
    output_key = sealing.EncryptionKey.generate()
    chain_ctx = Context("chain-input", 0, MODEL, Role.REQUESTER, Role.EXECUTOR, REQUESTER)
    out_ctx = Context("request", 5, MODEL, Role.EXECUTOR, Role.REQUESTER, REQUESTER)
    own_ctx = Context("request", 5, MODEL, Role.EXECUTOR, Role.EXECUTOR, REQUESTER)
    val_ctx = Context("request", 5, MODEL, Role.EXECUTOR, Role.VALIDATOR, REQUESTER)
    salt = os.urandom(32)
    recipients = [(a, k.public) for a, k in zip(accounts, keys, strict=True)]
    sealed = sealing.seal_multi(recipients, salt + PROMPT, chain_ctx)
    wraps = list(sealed.wraps)
    envelope, commitment = sealing.seal_output(output_key.public, record, out_ctx)
    input_commitment = sealing.commit_input(salt, PROMPT)
    own = sealing.seal_for(executor.public, sealing.pack(salt + PROMPT, salt + record), own_ctx)

    def requester_seal() -> None:
        s = os.urandom(32)
        sealing.seal_multi(recipients, s + PROMPT, chain_ctx)
        sealing.commit_input(s, PROMPT)

    def requester_open() -> None:
        sealing.open_output(output_key, envelope, out_ctx, commitment)

    def executor_work() -> None:
        plain = sealing.open_multi(executor, executor_account, wraps, sealed.payload, chain_ctx)
        assert sealing.commit_input(plain[:32], plain[32:]) == input_commitment
        sealing.seal_output(output_key.public, record, out_ctx)
        sealing.seal_for(executor.public, sealing.pack(plain, salt + record), own_ctx)

    def validator_work() -> None:
        inner = sealing.open_for(executor, own, own_ctx)
        bundle = sealing.seal_for(validator.public, inner, val_ctx)
        prompt_part, output_part = sealing.unpack(sealing.open_for(validator, bundle, val_ctx), 2)
        sealing.commit_input(prompt_part[:32], prompt_part[32:])
        sealing.commit_output(output_part[:32], output_part[32:])

    return {
        "requester: seal prompt": per_call(requester_seal, rounds),
        "requester: open output": per_call(requester_open, rounds),
        "executor: open input, seal output": per_call(executor_work, rounds),
        "validator: re-seal + open + check": per_call(validator_work, rounds),
    }


def chunk_cost(rounds: int) -> float:
    key = os.urandom(32)
    ctx = Context("ticket", 1, MODEL, Role.EXECUTOR, Role.GATEWAY, REQUESTER)
    sealer = sealing.StreamSealer(key, ctx)
    opener = sealing.StreamOpener(key, sealer.header, ctx)
    chunk = b'{"text": " settles", "token": 4242, "logprob": -1.25}'

    def one() -> None:
        opener.open(sealer.seal(chunk))

    return per_call(one, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--providers", default="1,8,64")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    with tempfile.TemporaryDirectory() as tmp:
        gen_s, record = asyncio.run(generation_s(build(Path(tmp) / "model"), args.tokens))
    print(f"baseline: {args.tokens}-token generation on the CPU: {gen_s * 1e3:.1f} ms")
    print(f"output record: {len(record)} bytes; prompt: {len(PROMPT)} bytes")
    for n in (int(p) for p in args.providers.split(",")):
        costs = request_costs(record, n, args.rounds)
        total = sum(costs.values())
        print(f"\nsealed on-chain request, key wrapped to {n} provider(s):")
        for name, seconds in costs.items():
            print(f"  {name:36s} {seconds * 1e6:9.1f} us  {100 * seconds / gen_s:6.3f} %")
        print(f"  {'all of the above':36s} {total * 1e6:9.1f} us  {100 * total / gen_s:6.3f} %")
    per_chunk = chunk_cost(args.rounds * 10)
    per_token_s = gen_s / args.tokens
    print(
        f"\nstream: seal + open one chunk {per_chunk * 1e6:.1f} us, "
        f"{100 * per_chunk / per_token_s:.3f} % of one generated token "
        f"({per_token_s * 1e3:.2f} ms); {args.tokens} chunks: "
        f"{100 * per_chunk * args.tokens / gen_s:.3f} % of the generation"
    )


if __name__ == "__main__":
    main()
