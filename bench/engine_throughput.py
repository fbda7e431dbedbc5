"""Generated tokens per second: the batching engine against a sequential `generate` loop.

Builds a small random-weight GPT-2 (safetensors, in a temporary directory), then for 1, 4 and 16
concurrent requests measures, in the same run and on the same model:

  baseline  one transformers `model.generate(...)` call per request, one after another
  engine    the requests submitted concurrently to `InferenceEngine` (dynamic batching; the
            engine also computes top-5 logprobs for every token, which the baseline does not)

and prints both rates and their ratio. Runs on the CPU, and again on the GPU when one is present.

    .venv/bin/python bench/engine_throughput.py [--tokens 32] [--device cpu|cuda|all]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import torch
import transformers

from inference_engine import (
    EngineConfig,
    GenerationRequest,
    InferenceEngine,
    LoadedModel,
    RequestId,
    SamplingParams,
    load_model,
)

CONCURRENCY = (1, 4, 16)
PROMPT_LEN = 16


def build(directory: Path) -> Path:
    config = transformers.GPT2Config(
        vocab_size=8192, n_positions=512, n_embd=256, n_layer=4, n_head=4, eos_token_id=0
    )
    torch.manual_seed(0)
    transformers.GPT2LMHeadModel(config).save_pretrained(str(directory), safe_serialization=True)
    return directory


def requests(n: int, tokens: int) -> list[GenerationRequest]:
    params = SamplingParams(max_tokens=tokens, ignore_eos=True)
    return [
        GenerationRequest(
            RequestId(f"bench-{n}-{i}"),
            tuple((7 * i + j) % 8000 + 1 for j in range(PROMPT_LEN)),
            params,
        )
        for i in range(n)
    ]


def baseline(model: LoadedModel, reqs: list[GenerationRequest], tokens: int) -> float:
    device = model.placement.device
    started = time.perf_counter()
    with torch.inference_mode():
        for request in reqs:
            assert isinstance(request.prompt, tuple)
            ids = torch.tensor([request.prompt], device=device)
            out = model.module.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=tokens,
                min_new_tokens=tokens,
                do_sample=False,
                pad_token_id=0,
            )
            assert out.shape[1] == PROMPT_LEN + tokens
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return len(reqs) * tokens / (time.perf_counter() - started)


async def engine_rate(engine: InferenceEngine, reqs: list[GenerationRequest], tokens: int) -> float:
    started = time.perf_counter()
    outs = await asyncio.gather(*(engine.generate(r) for r in reqs))
    elapsed = time.perf_counter() - started
    assert all(len(o.tokens) == tokens for o in outs)
    return len(reqs) * tokens / elapsed


async def run(device: str, directory: Path, tokens: int) -> None:
    config = EngineConfig(device=device, max_batch_size=16)
    model = load_model(directory, config)
    print(f"-- device {model.placement.device} ({model.placement.dtype}), {tokens} tokens/request")
    async with InferenceEngine(model, config) as engine:
        await engine_rate(engine, requests(2, 4), 4)  # warm-up
        baseline(model, requests(1, 4), 4)
        print(f"{'concurrent':>10} {'baseline tok/s':>15} {'engine tok/s':>13} {'ratio':>6}")
        for n in CONCURRENCY:
            reqs = requests(n, tokens)
            base = baseline(model, reqs, tokens)
            ours = await engine_rate(engine, reqs, tokens)
            print(f"{n:>10} {base:>15.1f} {ours:>13.1f} {ours / base:>5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    args = parser.parse_args()
    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    with tempfile.TemporaryDirectory() as tmp:
        directory = build(Path(tmp))
        devices = ["cpu"] if args.device in ("cpu", "all") else []
        if args.device in ("cuda", "all"):
            if torch.cuda.is_available():
                devices.append("cuda")
            else:
                print("-- no CUDA device: GPU figures not measured")
        for device in devices:
            asyncio.run(run(device, directory, args.tokens))


if __name__ == "__main__":
    main()
