"""The committed conformance vectors are what devnode's pallets produce today (`make vectors`)."""

from __future__ import annotations

import json

from devnode.conformance import VECTOR_DIR, generate
from devnode.conformance._coverage import SCRIPTED_PALLETS, coverage_table
from devnode.conformance._scenarios import model_registry, tokens


def test_the_committed_vectors_are_not_stale() -> None:
    fresh = generate()
    on_disk = {path.name: path.read_bytes() for path in VECTOR_DIR.glob("*.json")}
    assert sorted(on_disk) == sorted(fresh), "vector files differ: run `make vectors`"
    stale = [name for name, data in fresh.items() if on_disk[name] != data]
    assert not stale, f"stale conformance vectors {stale}: run `make vectors` and commit them"


def test_generation_is_deterministic() -> None:
    assert generate() == generate()


def test_there_are_at_least_a_thousand_steps() -> None:
    steps = sum(len(json.loads(data)["steps"]) for data in generate().values())
    assert steps >= 1_000


def test_every_call_and_error_is_covered_or_unreachable() -> None:
    table = coverage_table([tokens(), model_registry()])
    for pallet in SCRIPTED_PALLETS:
        row = table[pallet]
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
