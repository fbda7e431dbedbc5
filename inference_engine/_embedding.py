"""Embeddings: batched encoder passes, sentence-transformers pooling, and their validation.

Blocking, under `torch.inference_mode()`; the async engine calls it from its worker thread.
Pooling follows sentence-transformers exactly (attention-masked mean, CLS, max, mean / sqrt(n),
concatenated in that library's order), then optional L2 normalisation, in float32.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ._errors import InvalidRequestError
from ._loader import LoadedModel
from ._types import EmbeddingOutput, EmbeddingRequest, ValidationReport

__all__ = [
    "EmbeddingJob",
    "embed_batch",
    "prepare_embedding",
    "run_embeddings",
    "validate_embedding",
]


@dataclass(frozen=True, slots=True)
class EmbeddingJob:
    """One request, tokenised (private to the engine)."""

    request: EmbeddingRequest
    ids: tuple[int, ...]
    truncated: bool


def prepare_embedding(model: LoadedModel, request: EmbeddingRequest) -> EmbeddingJob:
    """Tokenise (and truncate) a request's input."""
    ids, truncated = model.encode_input(request.input)
    return EmbeddingJob(request, ids, truncated)


def _accepts(model: LoadedModel, name: str) -> bool:
    return name in inspect.signature(model.module.forward).parameters


def _pad_id(model: LoadedModel) -> int:
    value = getattr(model.module.config, "pad_token_id", None)
    return int(value) if isinstance(value, int) else 0


def _pool(hidden: torch.Tensor, mask: torch.Tensor, modes: Sequence[str]) -> torch.Tensor:
    hidden = hidden.float()
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    counts = weights.sum(dim=1).clamp(min=1e-9)
    parts = []
    for mode in modes:
        if mode == "cls":
            parts.append(hidden[:, 0])
        elif mode == "max":
            parts.append(hidden.masked_fill(weights == 0, -1e9).max(dim=1).values)
        elif mode == "mean":
            parts.append((hidden * weights).sum(dim=1) / counts)
        elif mode == "mean_sqrt_len":
            parts.append((hidden * weights).sum(dim=1) / counts.sqrt())
        else:  # pragma: no cover - inspection refuses other modes
            raise InvalidRequestError(f"unknown pooling mode {mode!r}")
    return torch.cat(parts, dim=-1)


def run_embeddings(model: LoadedModel, jobs: Sequence[EmbeddingJob]) -> list[EmbeddingOutput]:
    """One right-padded encoder pass over `jobs`; each row's vector depends only on its input."""
    spec = model.embedding
    if spec is None:
        raise InvalidRequestError(f"model {model.model_id} is not an embedding model")
    if not jobs:
        return []
    device = torch.device(model.placement.device)
    width = max(len(job.ids) for job in jobs)
    ids = torch.full((len(jobs), width), _pad_id(model), dtype=torch.long)
    mask = torch.zeros((len(jobs), width), dtype=torch.long)
    for row, job in enumerate(jobs):
        ids[row, : len(job.ids)] = torch.tensor(job.ids, dtype=torch.long)
        mask[row, : len(job.ids)] = 1
    ids, mask = ids.to(device), mask.to(device)
    kwargs: dict[str, torch.Tensor] = {"input_ids": ids, "attention_mask": mask}
    if _accepts(model, "token_type_ids"):
        kwargs["token_type_ids"] = torch.zeros_like(ids)
    with torch.inference_mode():
        hidden = model.module(**kwargs).last_hidden_state
        pooled = _pool(hidden, mask, spec.pooling)
        if spec.normalize:
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        rows = pooled.cpu().tolist()
    outputs = []
    for job, row in zip(jobs, rows, strict=True):
        if not all(math.isfinite(v) for v in row):
            raise InvalidRequestError(f"request {job.request.request_id}: non-finite embedding")
        outputs.append(
            EmbeddingOutput(
                request_id=job.request.request_id,
                prompt_token_count=len(job.ids),
                vector=tuple(float(v) for v in row),
                truncated=job.truncated,
            )
        )
    return outputs


def embed_batch(model: LoadedModel, requests: Sequence[EmbeddingRequest]) -> list[EmbeddingOutput]:
    """Blocking: embed `requests` together as one batch; outputs in request order."""
    return run_embeddings(model, [prepare_embedding(model, r) for r in requests])


def validate_embedding(
    model: LoadedModel,
    request: EmbeddingRequest,
    output: EmbeddingOutput,
    *,
    tolerance: float = 1e-3,
    norm_tolerance: float = 0.01,
) -> ValidationReport:
    """Blocking: recompute the embedding and compare it with the claimed one.

    Checks the record against the request (id, prompt token count, truncation, dimension,
    finite values), then that 1 - cosine(claimed, recomputed) <= `tolerance` and that their
    norms differ by at most `norm_tolerance` (relative).
    """
    spec = model.embedding
    if spec is None:
        raise InvalidRequestError(f"model {model.model_id} is not an embedding model")
    if output.request_id != request.request_id:
        return ValidationReport.rejected("request id differs", tolerance)
    job = prepare_embedding(model, request)
    if output.prompt_token_count != len(job.ids):
        return ValidationReport.rejected("prompt token count differs", tolerance)
    if output.truncated != job.truncated:
        return ValidationReport.rejected("truncation flag differs", tolerance)
    if len(output.vector) != spec.dimension:
        return ValidationReport.rejected(
            f"dimension {len(output.vector)} is not {spec.dimension}", tolerance
        )
    if not all(math.isfinite(v) for v in output.vector):
        return ValidationReport.rejected("non-finite value in the vector", tolerance)
    (mine,) = run_embeddings(model, [job])
    claimed = torch.tensor(output.vector, dtype=torch.float64)
    recomputed = torch.tensor(mine.vector, dtype=torch.float64)
    claimed_norm, recomputed_norm = float(claimed.norm()), float(recomputed.norm())
    if claimed_norm == 0.0 or recomputed_norm == 0.0:
        same = claimed_norm == recomputed_norm
        return ValidationReport(
            passed=same,
            distance=0.0 if same else 1.0,
            max_distance=0.0 if same else 1.0,
            compared=spec.dimension,
            tolerance=tolerance,
            reason="" if same else "zero vector differs",
        )
    cosine = float(claimed @ recomputed) / (claimed_norm * recomputed_norm)
    distance = max(0.0, 1.0 - cosine)
    norm_diff = abs(claimed_norm / recomputed_norm - 1.0)
    reason = ""
    if distance > tolerance:
        reason = f"cosine distance {distance:.2e} above tolerance {tolerance:g}"
    elif norm_diff > norm_tolerance:
        reason = f"norms differ by {norm_diff:.2e} (relative), above {norm_tolerance:g}"
    return ValidationReport(
        passed=not reason,
        distance=distance,
        max_distance=norm_diff,
        compared=spec.dimension,
        tolerance=tolerance,
        reason=reason,
    )


def warm_up(model: LoadedModel) -> None:
    """Blocking: one tiny pass (a token of generation, or one embedding) so the first real
    request does not pay for lazy set-up."""
    from ._runner import generate_batch
    from ._types import GenerationRequest, ModelTask, RequestId, SamplingParams

    if model.task is ModelTask.EMBEDDING:
        embed_batch(model, [EmbeddingRequest(RequestId("warm-up"), (0,))])
    else:
        request = GenerationRequest(RequestId("warm-up"), (0,), SamplingParams(max_tokens=1))
        generate_batch(model, [request])
