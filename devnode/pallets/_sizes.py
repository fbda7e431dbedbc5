"""What one inference puts on-chain, in encoded extrinsic bytes (for benchmarks and tests).

Only hashes and counts travel: the sizes below are the same for 10 or 10,000 tokens. Compare
with the seed's measured ~102 KB per inference (1,000 prompt and 150 completion tokens) when
payloads were recorded on-chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._hashing import blake2_256
from .._scale import encode_compact

__all__ = ["SEED_BYTES_PER_INFERENCE", "InferenceBytes", "inference_extrinsic_bytes"]

#: The seed's measured average payload per inference (KB = 1,000 bytes there).
SEED_BYTES_PER_INFERENCE = 102_000

_SAMPLE_CID = b"QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"


@dataclass(frozen=True)
class InferenceBytes:
    request: int
    result: int
    validation: int

    @property
    def without_validation(self) -> int:
        return self.request + self.result

    @property
    def with_validation(self) -> int:
        return self.request + self.result + self.validation


def signed_extrinsic_bytes(call: bytes, nonce: int = 1_000, mortal: bool = True) -> int:
    """Length of a signed v4 sr25519 extrinsic around `call`, its length prefix included."""
    body = (
        1  # version byte
        + 1
        + 32  # MultiAddress::Id
        + 1
        + 64  # MultiSignature::Sr25519
        + (2 if mortal else 1)  # era
        + len(encode_compact(nonce))
        + 1  # tip: compact 0
        + 1  # CheckMetadataHash mode
        + len(call)
    )
    return len(encode_compact(body)) + body


def inference_extrinsic_bytes(prompt_tokens: int, completion_tokens: int) -> InferenceBytes:
    """Encoded sizes of `request` (CID input), `submit_result` and `submit_validation`."""
    from .._runtime import RUNTIME

    model_id = blake2_256(_SAMPLE_CID)
    request = RUNTIME.encode_call(
        "Inference",
        "request",
        {
            "model_id": model_id,
            "input": ("Cid", _SAMPLE_CID),
            "prompt_tokens": prompt_tokens,
            "max_tokens": completion_tokens,
            "max_price_per_1k_tokens": 2 * 10**12,
            "deadline_blocks": 20,
        },
    )
    result = RUNTIME.encode_call(
        "Inference",
        "submit_result",
        {
            "request_id": 2**40,
            "output_hash": blake2_256(b"output"),
            "output_cid": _SAMPLE_CID,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
        },
    )
    validation = RUNTIME.encode_call(
        "Inference", "submit_validation", {"request_id": 2**40, "valid": True}
    )
    return InferenceBytes(
        signed_extrinsic_bytes(request),
        signed_extrinsic_bytes(result),
        signed_extrinsic_bytes(validation),
    )
