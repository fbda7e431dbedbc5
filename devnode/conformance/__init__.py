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

from ._vectors import PROTOCOL_PALLETS, GenerationError, Recorder, Vector

__all__ = [
    "GROUPS",
    "PROTOCOL_PALLETS",
    "VECTOR_DIR",
    "GenerationError",
    "Recorder",
    "Vector",
    "generate",
    "write_vectors",
]

#: Where the committed vectors live.
VECTOR_DIR = Path(__file__).resolve().parents[2] / "chain" / "conformance" / "vectors"


def _groups() -> dict[str, Callable[[], Vector]]:
    from . import _random, _scenarios

    return {
        "tokens": _scenarios.tokens,
        "model_registry": _scenarios.model_registry,
        "random_tokens_registry": _random.tokens_registry,
    }


GROUPS: tuple[str, ...] = ("tokens", "model_registry", "random_tokens_registry")


def encode(vector: Vector) -> bytes:
    return (json.dumps(vector.to_json(), indent=1) + "\n").encode()


def generate() -> dict[str, bytes]:
    """Every vector file, by file name; raises `GenerationError` if a scenario went astray or a
    call or error of the protocol pallets is neither covered nor listed as unreachable."""
    from ._coverage import check_coverage

    vectors = {name: build() for name, build in _groups().items()}
    check_coverage(list(vectors.values()))
    return {f"{name}.json": encode(vector) for name, vector in vectors.items()}


def write_vectors(directory: Path = VECTOR_DIR) -> list[Path]:
    """Write the vector files to `directory`, removing stale `*.json` files there."""
    files = generate()
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.json"):
        if old.name not in files:
            old.unlink()
    written = []
    for name, data in files.items():
        path = directory / name
        path.write_bytes(data)
        written.append(path)
    return written
