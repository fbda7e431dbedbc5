"""The committed conformance vectors are what devnode's pallets produce today (`make vectors`).

chain/runtime/tests/conformance.rs replays them against the Rust runtime byte for byte; this
side makes sure they are not stale, are deterministic, and cover every call and error.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from devnode.conformance import CONFORMANCE_DIR, PROTOCOL_PALLETS, build_vectors, generate
from devnode.conformance._coverage import SCRIPTED_PALLETS, coverage_table


def _vectors(files: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    return {name: json.loads(data) for name, data in files.items() if name.startswith("vectors/")}


@pytest.fixture(scope="module")
def fresh() -> dict[str, bytes]:
    return generate()


def test_the_committed_vectors_are_not_stale(fresh: dict[str, bytes]) -> None:
    committed = {
        str(path.relative_to(CONFORMANCE_DIR)): path.read_bytes()
        for path in [*CONFORMANCE_DIR.glob("vectors/*.json"), CONFORMANCE_DIR / "signatures.json"]
        if path.exists()
    }
    assert sorted(committed) == sorted(fresh), "vector files differ: run `make vectors`"
    stale = [name for name, data in fresh.items() if committed[name] != data]
    assert not stale, f"stale conformance vectors {stale}: run `make vectors` and commit them"


def test_generation_is_deterministic(fresh: dict[str, bytes]) -> None:
    assert generate() == fresh


def test_there_are_at_least_a_thousand_steps_with_scripted_and_random_groups(
    fresh: dict[str, bytes],
) -> None:
    vectors = _vectors(fresh)
    steps = {name: len(v["steps"]) for name, v in vectors.items()}
    assert sum(steps.values()) >= 1_000
    assert steps["vectors/random_tokens_registry.json"] >= 500
    assert steps["vectors/random_protocol.json"] >= 500


def test_every_call_and_error_is_covered_or_unreachable() -> None:
    vectors, _ = build_vectors()
    table = coverage_table(vectors)
    assert sorted(table) == sorted(SCRIPTED_PALLETS) == sorted(PROTOCOL_PALLETS)
    for pallet, row in table.items():
        assert not row["calls_missing"], (pallet, row["calls_missing"])
        assert not row["errors_missing"], (pallet, row["errors_missing"])
    assert table["Tokens"]["errors_unreachable"] == [
        "AmountIntoBalanceFailed",
        "LiquidityRestrictions",
        "MaxLocksExceeded",
        "DeadAccount",
        "TooManyReserves",
    ]
    assert table["ModelRegistry"]["errors_unreachable"] == ["InvalidAuthorShare"]
    assert table["Inference"]["errors_unreachable"] == ["DeadlinePassed"]
    assert table["Providers"]["errors_unreachable"] == []
    assert table["Channels"]["errors_unreachable"] == []
