"""Teacher-forced validation: honest outputs pass, tampered or foreign ones fail."""

from __future__ import annotations

import dataclasses

import pytest

from inference_engine import (
    GenerationOutput,
    GenerationRequest,
    LoadedModel,
    RequestId,
    SamplingParams,
    TokenLogprobs,
    decode_output,
    encode_output,
    generate_batch,
    validate,
)


def _request(temperature: float, rid: str = "val-1") -> GenerationRequest:
    params = SamplingParams(
        max_tokens=12, temperature=temperature, top_p=0.9, top_k=40, ignore_eos=True
    )
    return GenerationRequest(RequestId(rid), "the quick brown fox", params)


def _swap_token(model: LoadedModel, out: GenerationOutput, index: int) -> GenerationOutput:
    """Change one token, keeping its claimed logprob entry shape (as a cheater would).

    The replacement is the recorded alternative farthest from the token in probability rank:
    a materially different pick. (The CDF neighbour of a sampled token can lie within the
    `token_tolerance` noise bound, which is what that tolerance is for.)
    """
    entry = out.logprobs[index]
    ranked = [t for t, _ in entry.top]
    rank = ranked.index(entry.token) if entry.token in ranked else 0
    replacement = max(
        (t for t in ranked if t != entry.token), key=lambda t: abs(ranked.index(t) - rank)
    )
    tokens = list(out.tokens)
    tokens[index] = replacement
    entries = list(out.logprobs)
    entries[index] = TokenLogprobs(replacement, entry.logprob, entry.top)
    return dataclasses.replace(
        out, tokens=tuple(tokens), logprobs=tuple(entries), text=model.decode(tokens)
    )


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_honest_output_validates(model: LoadedModel, temperature: float) -> None:
    request = _request(temperature)
    (out,) = generate_batch(model, [request])
    shipped = decode_output(encode_output(out))  # as it travels between machines
    report = validate(model, request, shipped)
    assert report.passed, report
    assert report.distance < 1e-3
    assert report.compared == 12 * 6


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_one_changed_token_fails(model: LoadedModel, temperature: float) -> None:
    request = _request(temperature)
    (out,) = generate_batch(model, [request])
    report = validate(model, request, _swap_token(model, out, 5))
    assert not report.passed
    assert report.first_bad_position == 5
    assert "choice" in report.reason


def test_regenerated_tail_after_a_changed_token_fails(model: LoadedModel) -> None:
    """A cheater changes a token and regenerates the rest honestly: the change still shows."""
    request = _request(0.0)
    (out,) = generate_batch(model, [request])
    forged = _swap_token(model, out, 3)
    prefix = forged.tokens[:4]
    prompt = model.encode_prompt(request.prompt)
    tail_request = GenerationRequest(
        request.request_id,
        prompt + prefix,
        dataclasses.replace(request.params, max_tokens=8),
    )
    (tail,) = generate_batch(model, [tail_request])
    forged = dataclasses.replace(
        forged,
        tokens=prefix + tail.tokens,
        logprobs=forged.logprobs[:4] + tail.logprobs,
        text=model.decode(prefix + tail.tokens),
    )
    report = validate(model, request, forged)
    assert not report.passed
    assert report.first_bad_position == 3


def test_tampered_logprobs_fail_on_distance(model: LoadedModel) -> None:
    request = _request(0.0)
    (out,) = generate_batch(model, [request])
    shifted = tuple(
        TokenLogprobs(e.token, e.logprob - 0.5, tuple((t, lp - 0.5) for t, lp in e.top))
        for e in out.logprobs
    )
    report = validate(model, request, dataclasses.replace(out, logprobs=shifted))
    assert not report.passed
    assert report.distance == pytest.approx(0.5, abs=1e-3)
    assert report.reason == "logprob distance above tolerance"


def test_output_of_another_model_fails(gpt2: LoadedModel, other_gpt2: LoadedModel) -> None:
    for temperature in (0.0, 1.0):
        request = _request(temperature)
        (foreign,) = generate_batch(other_gpt2, [request])
        report = validate(gpt2, request, foreign)
        assert not report.passed
        honest = validate(other_gpt2, request, foreign)
        assert honest.passed


def test_record_must_match_the_request(model: LoadedModel) -> None:
    request = _request(0.0)
    (out,) = generate_batch(model, [request])
    cases = {
        "request id differs": dataclasses.replace(out, request_id=RequestId("other")),
        "prompt token count differs": dataclasses.replace(out, prompt_token_count=1),
        "text differs from the decoded tokens": dataclasses.replace(out, text=out.text + "!"),
        "top_logprobs differs from the request": dataclasses.replace(out, top_logprobs=4),
        "token count out of range": dataclasses.replace(out, logprobs=out.logprobs[:-1]),
        "finish reason inconsistent with the tokens": dataclasses.replace(
            out,
            tokens=out.tokens[:-1],
            logprobs=out.logprobs[:-1],
            text=model.decode(out.tokens[:-1]),
        ),
    }
    for reason, forged in cases.items():
        report = validate(model, request, forged)
        assert not report.passed
        assert report.reason == reason


def test_a_different_request_id_breaks_a_sampled_output(model: LoadedModel) -> None:
    request = _request(1.0, "val-a")
    (out,) = generate_batch(model, [request])
    replay = _request(1.0, "val-b")
    report = validate(model, replay, dataclasses.replace(out, request_id=replay.request_id))
    assert not report.passed
    assert "sampling" in report.reason
