"""Model work: batched generation with per-token logprobs, and teacher-forced validation.

Everything here is blocking and runs under `torch.inference_mode()`; the async engine calls it
from its worker thread.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ._distance import logprob_distance
from ._encoding import dequantize_logprob, quantize_logprob
from ._errors import InferenceError, InvalidRequestError
from ._loader import LoadedModel
from ._sampling import sample_token, sampled_token_consistent
from ._seed import derive_seed, step_uniform
from ._types import (
    FinishReason,
    GenerationOutput,
    GenerationRequest,
    TokenLogprobs,
    ValidationReport,
)

__all__ = ["SequenceJob", "generate_batch", "run_batch", "validate"]

_PAD_ID = 0


def _q(logprob: float) -> float:
    return dequantize_logprob(quantize_logprob(logprob))


@dataclass(eq=False)
class SequenceJob:
    """One request's mutable state while it is being generated (private to the engine).

    `interrupt` is polled at every token boundary; a non-None error stops this sequence.
    """

    request: GenerationRequest
    prompt: tuple[int, ...]
    interrupt: Callable[[], InferenceError | None] = lambda: None
    #: Called (in the worker thread) with each token as soon as it is chosen (streaming).
    on_token: Callable[[TokenLogprobs], None] | None = None
    tokens: list[int] = field(default_factory=list)
    entries: list[TokenLogprobs] = field(default_factory=list)
    finish: FinishReason | None = None
    error: InferenceError | None = None
    text: str = ""

    @property
    def done(self) -> bool:
        return self.finish is not None or self.error is not None

    def output(self) -> GenerationOutput:
        assert self.finish is not None
        return GenerationOutput(
            request_id=self.request.request_id,
            prompt_token_count=len(self.prompt),
            tokens=tuple(self.tokens),
            text=self.text,
            logprobs=tuple(self.entries),
            finish_reason=self.finish,
            top_logprobs=self.request.params.top_logprobs,
        )


def prepare(model: LoadedModel, request: GenerationRequest) -> SequenceJob:
    """Tokenise and check a request against the model's limits."""
    prompt = model.encode_prompt(request.prompt)
    if len(prompt) + request.params.max_tokens > model.max_positions:
        raise InvalidRequestError(
            f"prompt ({len(prompt)}) + max_tokens ({request.params.max_tokens}) exceeds the "
            f"model's {model.max_positions} positions"
        )
    if request.params.top_logprobs > model.vocab_size:
        raise InvalidRequestError("top_logprobs exceeds the vocabulary")
    return SequenceJob(request=request, prompt=prompt)


def cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    """`text` cut before the earliest stop sequence: the rule for a record's `text`."""
    cuts = [i for i in (text.find(s) for s in stop) if i >= 0]
    return text[: min(cuts)] if cuts else text


def _visible_text(model: LoadedModel, tokens: Sequence[int], stop: tuple[str, ...]) -> str:
    """decode(tokens), cut before the earliest stop sequence."""
    return cut_at_stop(model.decode(list(tokens)), stop)


def _finish_after(model: LoadedModel, job: SequenceJob, token: int) -> FinishReason | None:
    params = job.request.params
    if token in params.stop_token_ids:
        return FinishReason.STOP
    if not params.ignore_eos and token in model.eos_token_ids:
        return FinishReason.EOS
    if params.stop and model.tokenizer is not None:
        text = model.decode(job.tokens)
        if any(s in text for s in params.stop):
            return FinishReason.STOP
    if len(job.tokens) >= params.max_tokens:
        return FinishReason.LENGTH
    return None


def _forward_kwargs(model: LoadedModel) -> dict[str, int]:
    params = inspect.signature(model.module.forward).parameters
    return {"logits_to_keep": 1} if "logits_to_keep" in params else {}


def _cache_argument(model: LoadedModel) -> str:
    """transformers 5.x names the KV cache `cache` (`past_key_values` is deprecated)."""
    params = inspect.signature(model.module.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _cache_of(out: Any) -> Any:
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def run_batch(model: LoadedModel, jobs: Sequence[SequenceJob]) -> None:
    """Generate every job to completion (or interruption) as one left-padded batch.

    Rows that finish are dropped from the batch (and its KV cache). Each row's tokens depend
    only on its own request: greedy rows take the argmax, sampled rows the inverse-CDF pick with
    the uniform derived from the request id and step.
    """
    with torch.inference_mode():
        _run_batch(model, list(jobs))


def _run_batch(model: LoadedModel, jobs: list[SequenceJob]) -> None:
    device = torch.device(model.placement.device)
    active = [job for job in jobs if not job.done]
    if not active:
        return
    width = max(len(job.prompt) for job in active)
    ids = torch.full((len(active), width), _PAD_ID, dtype=torch.long)
    mask = torch.zeros((len(active), width), dtype=torch.long)
    for row, job in enumerate(active):
        ids[row, width - len(job.prompt) :] = torch.tensor(job.prompt, dtype=torch.long)
        mask[row, width - len(job.prompt) :] = 1
    ids, mask = ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    extra = _forward_kwargs(model)
    out = model.module(
        input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **extra
    )
    cache = _cache_of(out)
    cache_arg = _cache_argument(model)
    logits = out.logits[:, -1, :].float()
    next_positions = positions[:, -1:] + 1
    seeds = [derive_seed(job.request.request_id) for job in active]
    top_k = max(job.request.params.top_logprobs for job in active)

    while True:
        logprobs = torch.log_softmax(logits, dim=-1)
        chosen = torch.argmax(logits, dim=-1)
        for row, job in enumerate(active):
            params = job.request.params
            if not params.greedy and not job.done:
                uniform = step_uniform(seeds[row], len(job.tokens))
                chosen[row] = sample_token(logits[row], params, uniform)
        chosen_lp = logprobs.gather(1, chosen[:, None])[:, 0]
        chosen_list = chosen.tolist()
        chosen_lp_list = chosen_lp.tolist()
        if top_k:
            top_vals, top_ids = torch.topk(logprobs, top_k, dim=-1)
            top_vals_list, top_ids_list = top_vals.tolist(), top_ids.tolist()

        keep: list[int] = []
        for row, job in enumerate(active):
            if job.done:  # only when the cache cannot drop rows
                continue
            token = int(chosen_list[row])
            k = job.request.params.top_logprobs
            top: tuple[tuple[int, float], ...] = ()
            if k:
                pairs = [
                    (int(t), _q(v))
                    for t, v in zip(top_ids_list[row], top_vals_list[row], strict=True)
                ]
                top = tuple(sorted(pairs[:k], key=lambda p: (-p[1], p[0])))
            job.tokens.append(token)
            job.entries.append(TokenLogprobs(token, _q(chosen_lp_list[row]), top))
            if job.on_token is not None:
                job.on_token(job.entries[-1])
            job.finish = _finish_after(model, job, token)
            if job.finish is None:
                job.error = job.interrupt()
            if job.done:
                if job.finish is not None:
                    job.text = _visible_text(model, job.tokens, job.request.params.stop)
            else:
                keep.append(row)
        if not keep:
            return

        next_ids = chosen[:, None]
        if len(keep) < len(active):
            index = torch.tensor(keep, device=device)
            if hasattr(cache, "batch_select_indices"):
                cache.batch_select_indices(index)
                active = [active[i] for i in keep]
                seeds = [seeds[i] for i in keep]
                next_ids, mask, next_positions = next_ids[index], mask[index], next_positions[index]
        mask = torch.cat([mask, torch.ones_like(next_ids)], dim=-1)
        out = model.module(
            input_ids=next_ids,
            attention_mask=mask,
            position_ids=next_positions,
            use_cache=True,
            **{cache_arg: cache},
            **extra,
        )
        cache = _cache_of(out)
        logits = out.logits[:, -1, :].float()
        next_positions = next_positions + 1


def generate_batch(
    model: LoadedModel, requests: Sequence[GenerationRequest]
) -> list[GenerationOutput]:
    """Blocking: run `requests` together as one batch and return their outputs in order."""
    jobs = [prepare(model, request) for request in requests]
    run_batch(model, jobs)
    outputs = []
    for job in jobs:
        if job.error is not None:
            raise job.error
        outputs.append(job.output())
    return outputs


def validate(
    model: LoadedModel,
    request: GenerationRequest,
    output: GenerationOutput,
    *,
    tolerance: float = 0.05,
    token_tolerance: float = 0.05,
) -> ValidationReport:
    """Blocking: check an executor's output by re-running the model teacher-forced.

    Checks, in order: the record matches the request (id, prompt length, top-k count, length
    and finish reason), the text is what the tokens decode to, every token is a pick the
    sampling rule could have made from the recomputed distribution (argmax within
    `token_tolerance` nats for greedy; the derived uniform inside the token's CDF interval,
    with `token_tolerance` slack, for sampling), and finally that the mean absolute distance
    between claimed and recomputed logprobs (chosen and top-k) is at most `tolerance`.
    """
    with torch.inference_mode():
        return _validate(model, request, output, tolerance, token_tolerance)


def _validate(
    model: LoadedModel,
    request: GenerationRequest,
    output: GenerationOutput,
    tolerance: float,
    token_tolerance: float,
) -> ValidationReport:
    params = request.params
    prompt = model.encode_prompt(request.prompt)
    tokens = output.tokens
    n = len(tokens)
    if output.request_id != request.request_id:
        return ValidationReport.rejected("request id differs", tolerance)
    if output.prompt_token_count != len(prompt):
        return ValidationReport.rejected("prompt token count differs", tolerance)
    if output.top_logprobs != params.top_logprobs:
        return ValidationReport.rejected("top_logprobs differs from the request", tolerance)
    if not 1 <= n <= params.max_tokens or len(output.logprobs) != n:
        return ValidationReport.rejected("token count out of range", tolerance)
    if any(t < 0 or t >= model.vocab_size for t in tokens):
        return ValidationReport.rejected("token id outside the vocabulary", tolerance)
    if len(prompt) + n > model.max_positions:
        return ValidationReport.rejected("sequence longer than the model's context", tolerance)

    # The finish reason must be where generation would really have stopped.
    probe = SequenceJob(request=request, prompt=prompt)
    for i, token in enumerate(tokens):
        probe.tokens.append(token)
        finish = _finish_after(model, probe, token)
        if finish is not None and i < n - 1:
            return ValidationReport.rejected(
                f"generation would have stopped ({finish.name}) earlier", tolerance, i
            )
        if i == n - 1 and finish != output.finish_reason:
            return ValidationReport.rejected(
                "finish reason inconsistent with the tokens", tolerance, i
            )
    if output.text != _visible_text(model, tokens, params.stop):
        return ValidationReport.rejected("text differs from the decoded tokens", tolerance)

    device = torch.device(model.placement.device)
    full = torch.tensor([list(prompt) + list(tokens)], dtype=torch.long, device=device)
    logits = model.module(input_ids=full, use_cache=False).logits[0].float()
    step_logits = logits[len(prompt) - 1 : len(prompt) - 1 + n]
    logprobs = torch.log_softmax(step_logits, dim=-1)
    seed = derive_seed(request.request_id)

    claimed: list[float] = []
    recomputed: list[float] = []
    row_max = logprobs.max(dim=-1).values.tolist()
    for i, (token, entry) in enumerate(zip(tokens, output.logprobs, strict=True)):
        if entry.token != token or len(entry.top) != params.top_logprobs:
            return ValidationReport.rejected("malformed logprobs entry", tolerance, i)
        wanted = [token, *(alt for alt, _ in entry.top)]
        if any(t < 0 or t >= model.vocab_size for t in wanted):
            return ValidationReport.rejected("top-k token id outside the vocabulary", tolerance, i)
        values = logprobs[i, wanted].tolist()
        if params.greedy:
            if values[0] < row_max[i] - token_tolerance:
                return ValidationReport.rejected("token is not the greedy choice", tolerance, i)
        elif not sampled_token_consistent(
            step_logits[i], params, step_uniform(seed, i), token, token_tolerance
        ):
            return ValidationReport.rejected(
                "token is not the seeded sampling choice", tolerance, i
            )
        claimed.append(entry.logprob)
        claimed.extend(lp for _, lp in entry.top)
        recomputed.extend(values)

    dist = logprob_distance(claimed, recomputed)
    passed = dist.mean <= tolerance
    return ValidationReport(
        passed=passed,
        distance=dist.mean,
        max_distance=dist.max,
        compared=dist.count,
        tolerance=tolerance,
        reason="" if passed else "logprob distance above tolerance",
    )
