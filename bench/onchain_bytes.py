"""Bytes one inference puts on-chain, against the ~102 KB the second design document measured.

Encodes the real extrinsics (signed v4, sr25519, mortal era) of `Inference.request` (input by
CID), `Inference.submit_result` (hashes and counts only) and `Inference.submit_validation` (when
a validator is drawn) for 1,000 prompt / 150 completion tokens and for ten times those counts.

    .venv/bin/python bench/onchain_bytes.py
"""

from __future__ import annotations

import sys

from devnode.pallets._sizes import SEED_BYTES_PER_INFERENCE, inference_extrinsic_bytes


def main() -> int:
    print(
        f"{'tokens (prompt/completion)':>28} {'request':>8} {'result':>7} {'validation':>10} {'total':>6} {'vs seed':>9}"
    )
    for prompt, completion in ((1_000, 150), (10_000, 1_500)):
        sizes = inference_extrinsic_bytes(prompt, completion)
        ratio = SEED_BYTES_PER_INFERENCE / sizes.with_validation
        print(
            f"{f'{prompt:,}/{completion:,}':>28} {sizes.request:>8} {sizes.result:>7} "
            f"{sizes.validation:>10} {sizes.with_validation:>6} {ratio:>8.0f}x"
        )
    print(f"seed document: ~{SEED_BYTES_PER_INFERENCE:,} bytes per inference (payloads on-chain)")
    small, large = inference_extrinsic_bytes(1_000, 150), inference_extrinsic_bytes(10_000, 1_500)
    print(
        "size grows with token counts:",
        "yes" if large.with_validation > small.with_validation else "no",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
