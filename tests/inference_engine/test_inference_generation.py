"""Generation on tiny GPT-2 and Llama models: determinism, batching, stops, logprobs."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from inference_engine import (
    FinishReason,
    GenerationRequest,
    InvalidRequestError,
    LoadedModel,
    RequestId,
    SamplingParams,
    decode_output,
    encode_output,
    generate_batch,
)

PROMPTS = [
    "hello world",
    "the quick brown fox jumps over",
    "a",
    "validators re-run the model teacher forced and compare",
]


def _requests(
    temperature: float = 0.0, max_tokens: int = 12, **kw: object
) -> list[GenerationRequest]:
    params = SamplingParams(max_tokens=max_tokens, temperature=temperature, ignore_eos=True, **kw)  # type: ignore[arg-type]
    return [GenerationRequest(RequestId(f"req-{i}"), p, params) for i, p in enumerate(PROMPTS)]


def test_greedy_matches_transformers_generate(model: LoadedModel) -> None:
    (out,) = generate_batch(model, _requests(max_tokens=10)[1:2])
    prompt = model.encode_prompt(PROMPTS[1])
    with torch.inference_mode():
        reference = model.module.generate(
            torch.tensor([prompt]),
            attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
            max_new_tokens=10,
            min_new_tokens=10,
            do_sample=False,
            pad_token_id=0,
        )
    assert list(out.tokens) == reference[0, len(prompt) :].tolist()
    assert out.prompt_token_count == len(prompt)


def test_logprobs_are_the_model_distribution(model: LoadedModel) -> None:
    (out,) = generate_batch(model, _requests(temperature=0.9)[:1])
    prompt = model.encode_prompt(PROMPTS[0])
    full = torch.tensor([list(prompt) + list(out.tokens)])
    with torch.inference_mode():
        logprobs = torch.log_softmax(model.module(full).logits[0].float(), dim=-1)
    for i, entry in enumerate(out.logprobs):
        row = logprobs[len(prompt) - 1 + i]
        assert entry.logprob == pytest.approx(float(row[entry.token]), abs=1e-3)
        assert len(entry.top) == 5
        assert [t for t, _ in entry.top] == torch.topk(row, 5).indices.tolist()
        assert all(a[1] >= b[1] for a, b in zip(entry.top, entry.top[1:], strict=False))


def test_same_request_id_same_output(model: LoadedModel) -> None:
    for temperature in (0.0, 1.0):
        first = generate_batch(model, _requests(temperature))
        second = generate_batch(model, _requests(temperature))
        assert [encode_output(o) for o in first] == [encode_output(o) for o in second]


def test_sampling_depends_on_the_request_id(model: LoadedModel) -> None:
    params = SamplingParams(max_tokens=16, temperature=1.0, ignore_eos=True)
    outs = generate_batch(
        model, [GenerationRequest(RequestId(f"id-{i}"), "hello", params) for i in range(4)]
    )
    assert len({o.tokens for o in outs}) > 1
    greedy = SamplingParams(max_tokens=16, ignore_eos=True)
    g = generate_batch(
        model, [GenerationRequest(RequestId(f"id-{i}"), "hello", greedy) for i in range(2)]
    )
    assert g[0].tokens == g[1].tokens


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_batched_equals_unbatched(model: LoadedModel, temperature: float) -> None:
    requests = _requests(temperature, top_k=50, top_p=0.95)
    batched = generate_batch(model, requests)
    for request, out in zip(requests, batched, strict=True):
        (alone,) = generate_batch(model, [request])
        assert out.tokens == alone.tokens
        assert out.text == alone.text
        for a, b in zip(out.logprobs, alone.logprobs, strict=True):
            assert a.logprob == pytest.approx(b.logprob, abs=1e-3)


def test_rows_of_different_lengths_finish_independently(model: LoadedModel) -> None:
    requests = [
        GenerationRequest(
            RequestId("short"), "hello", SamplingParams(max_tokens=2, ignore_eos=True)
        ),
        GenerationRequest(RequestId("long"), "a", SamplingParams(max_tokens=9, ignore_eos=True)),
    ]
    short, long = generate_batch(model, requests)
    assert (len(short.tokens), len(long.tokens)) == (2, 9)
    assert short.finish_reason == long.finish_reason == FinishReason.LENGTH
    assert long.tokens == generate_batch(model, requests[1:])[0].tokens


def test_stop_token_and_eos(model: LoadedModel) -> None:
    (base,) = generate_batch(model, _requests(max_tokens=8)[:1])
    third = base.tokens[2]
    first_index = base.tokens.index(third)
    params = SamplingParams(max_tokens=8, stop_token_ids=(third,), ignore_eos=True)
    (stopped,) = generate_batch(model, [GenerationRequest(RequestId("req-0"), PROMPTS[0], params)])
    assert stopped.finish_reason == FinishReason.STOP
    assert stopped.tokens == base.tokens[: first_index + 1]

    with_eos = dataclasses.replace(model, eos_token_ids=frozenset({third}))
    eos_params = SamplingParams(max_tokens=8)
    (eos,) = generate_batch(
        with_eos, [GenerationRequest(RequestId("req-0"), PROMPTS[0], eos_params)]
    )
    assert eos.finish_reason == FinishReason.EOS
    assert eos.tokens == base.tokens[: first_index + 1]
    ignore = dataclasses.replace(eos_params, ignore_eos=True)
    (ignored,) = generate_batch(
        with_eos, [GenerationRequest(RequestId("req-0"), PROMPTS[0], ignore)]
    )
    assert ignored.tokens == base.tokens


def test_stop_sequence_cuts_the_text(model: LoadedModel) -> None:
    (base,) = generate_batch(model, _requests(max_tokens=10)[:1])
    assert len(base.text) >= 4
    stop = base.text[2:4]
    params = SamplingParams(max_tokens=10, stop=(stop,), ignore_eos=True)
    (out,) = generate_batch(model, [GenerationRequest(RequestId("req-0"), PROMPTS[0], params)])
    assert out.finish_reason == FinishReason.STOP
    assert out.text == base.text[: base.text.find(stop)]
    assert stop in model.decode(out.tokens)
    assert len(out.tokens) <= len(base.tokens)


def test_output_survives_the_canonical_encoding(model: LoadedModel) -> None:
    for out in generate_batch(model, _requests(0.7, top_logprobs=3)):
        assert decode_output(encode_output(out)) == out
        assert all(len(e.top) == 3 for e in out.logprobs)


def test_prompt_longer_than_context_refused(model: LoadedModel) -> None:
    too_long = GenerationRequest(RequestId("r"), (1,) * 250, SamplingParams(max_tokens=10))
    with pytest.raises(InvalidRequestError, match="positions"):
        generate_batch(model, [too_long])
