"""Conformance vectors: devnode's pallets, step by step, for the Rust runtime to replay (#11).

`generate()` runs every scenario group over the development genesis (//Alice .. //Ferdie
endowed, //Alice sudo) and returns each vector file's bytes; `python -m devnode.conformance`
(`make vectors`) writes them to `chain/conformance/vectors/`, and
`chain/runtime/tests/conformance.rs` replays them against the real runtime byte for byte
(docs/runtime.md, "Conformance vectors"). The output is deterministic: the same bytes on every
run, so a test can tell when the committed files are stale.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from ._signing import SIGNATURE_CACHE, Signer
from ._vectors import PROTOCOL_PALLETS, GenerationError, Recorder, Vector

__all__ = [
    "CONFORMANCE_DIR",
    "GROUPS",
    "PROTOCOL_PALLETS",
    "VECTOR_DIR",
    "GenerationError",
    "Recorder",
    "Vector",
    "build_vectors",
    "generate",
    "write_vectors",
]

#: Where the committed vectors (`vectors/*.json`) and ticket signatures live.
CONFORMANCE_DIR = Path(__file__).resolve().parents[2] / "chain" / "conformance"
VECTOR_DIR = CONFORMANCE_DIR / "vectors"

#: The vector files, in generation order.
GROUPS: tuple[str, ...] = (
    "tokens",
    "model_registry",
    "providers",
    "inference",
    "channels",
    "random_tokens_registry",
    "random_protocol",
)


def _builders(signer: Signer) -> dict[str, Callable[[], Vector]]:
    from . import _channels, _protocol, _random, _scenarios

    return {
        "tokens": _scenarios.tokens,
        "model_registry": _scenarios.model_registry,
        "providers": _protocol.providers,
        "inference": _protocol.inference,
        "channels": lambda: _channels.channels(signer),
        "random_tokens_registry": _random.tokens_registry,
        "random_protocol": lambda: _random.protocol(signer),
    }


def encode(vector: Vector) -> bytes:
    return (json.dumps(vector.to_json(), indent=1) + "\n").encode()


def generate(cache: Path = SIGNATURE_CACHE) -> dict[str, bytes]:
    """Every file under `chain/conformance/` (`vectors/<group>.json` and `signatures.json`), by
    relative path; raises `GenerationError` if a scenario went astray or a call or error of the
    protocol pallets is neither covered nor listed as unreachable."""
    vectors, signer = build_vectors(cache)
    files = {f"vectors/{vector.name}.json": encode(vector) for vector in vectors}
    files["signatures.json"] = signer.dump()
    return files


def build_vectors(cache: Path = SIGNATURE_CACHE) -> tuple[list[Vector], Signer]:
    """Every group's vector (in `GROUPS` order) and the signer that signed their tickets,
    checked for coverage."""
    from ._coverage import check_coverage

    signer = Signer(cache)
    builders = _builders(signer)
    vectors = [builders[name]() for name in GROUPS]
    check_coverage(vectors)
    return vectors, signer


def write_vectors(root: Path = CONFORMANCE_DIR) -> list[Path]:
    """Write the files under `root`, removing stale vector files there."""
    files = generate(root / "signatures.json")
    (root / "vectors").mkdir(parents=True, exist_ok=True)
    for old in (root / "vectors").glob("*.json"):
        if f"vectors/{old.name}" not in files:
            old.unlink()
    written = []
    for name, data in files.items():
        path = root / name
        path.write_bytes(data)
        written.append(path)
    return written
