"""Token selection on a row of logits: greedy, or inverse-CDF sampling with a derived uniform.

The same functions run on the executor (to pick) and on the validator (to check a pick), so the
two agree on the filtered distribution: temperature, then top-k, then top-p (nucleus), taken over
the vocabulary sorted by probability descending, ties by token id ascending.
"""

from __future__ import annotations

import math

import torch

from ._types import SamplingParams

__all__ = ["filtered_distribution", "sample_token", "sampled_token_consistent"]


def filtered_distribution(
    logits: torch.Tensor, params: SamplingParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids kept by the filters (most probable first) and their cumulative probabilities.

    `logits` is one row (shape [vocab]); the computation runs in float32 on its device.
    """
    scaled = logits.float() / params.temperature
    values, ids = torch.sort(scaled, descending=True, stable=True)
    if params.top_k:
        values, ids = values[: params.top_k], ids[: params.top_k]
    probs = torch.softmax(values, dim=-1)
    cdf = torch.cumsum(probs, dim=-1)
    if params.top_p < 1.0:
        keep = (
            int(
                torch.searchsorted(
                    cdf, torch.tensor([params.top_p], dtype=cdf.dtype, device=cdf.device)
                )[0]
            )
            + 1
        )
        keep = min(keep, cdf.shape[0])
        ids = ids[:keep]
        cdf = cdf[:keep] / cdf[keep - 1]
    return ids, cdf


def sample_token(logits: torch.Tensor, params: SamplingParams, uniform: float) -> int:
    """The token whose CDF interval [cdf[j-1], cdf[j]) holds `uniform`."""
    ids, cdf = filtered_distribution(logits, params)
    target = torch.tensor([uniform], dtype=cdf.dtype, device=cdf.device)
    index = min(int(torch.searchsorted(cdf, target, right=True)[0]), ids.shape[0] - 1)
    return int(ids[index])


def sampled_token_consistent(
    logits: torch.Tensor, params: SamplingParams, uniform: float, token: int, slack: float
) -> bool:
    """Whether `token` is a pick `sample_token` could have made if every logit were off by up
    to `slack` nats (numeric noise between machines).

    Such noise scales each probability by at most e^(2 slack) (after renormalising), so a CDF
    boundary c moves by at most min(c, 1 - c) * (e^(2 slack) - 1): tight near the ends of the
    CDF, where a flat distribution's many small intervals lie, instead of a fixed width that
    would accept several neighbouring tokens.
    """
    ids, cdf = filtered_distribution(logits, params)
    where = (ids == token).nonzero()
    if where.numel() == 0:
        return False
    j = int(where[0, 0])
    low = float(cdf[j - 1]) if j > 0 else 0.0
    high = float(cdf[j]) if j < ids.shape[0] - 1 else 1.0
    factor = math.expm1(2 * slack)
    return low - min(low, 1 - low) * factor <= uniform < high + min(high, 1 - high) * factor
