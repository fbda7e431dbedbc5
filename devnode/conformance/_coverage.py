"""Every call and every error of the scripted pallets is exercised, or listed as unreachable."""

from __future__ import annotations

from .._runtime import RUNTIME
from ._vectors import GenerationError, Vector

__all__ = ["SCRIPTED_PALLETS", "check_coverage", "coverage_table"]

#: The pallets whose scripted scenarios must cover every call and error.
SCRIPTED_PALLETS: tuple[str, ...] = (
    "Tokens",
    "ModelRegistry",
    "Providers",
    "Inference",
    "Channels",
)


def coverage_table(vectors: list[Vector]) -> dict[str, dict[str, list[str]]]:
    """Per scripted pallet: its calls and errors, covered or not, and the unreachable ones."""
    calls = set().union(*(v.calls for v in vectors))
    errors = set().union(*(v.errors for v in vectors))
    unreachable: dict[str, str] = {}
    for vector in vectors:
        unreachable.update(vector.unreachable)
    table: dict[str, dict[str, list[str]]] = {}
    for name in SCRIPTED_PALLETS:
        pallet = RUNTIME.by_name[name]
        assert pallet.errors is not None
        declared_calls = sorted(pallet.calls)
        declared_errors = [e.name for e in sorted(pallet.errors, key=lambda e: e.index)]
        table[name] = {
            "calls": [c for c in declared_calls if (name, c) in calls],
            "calls_missing": [c for c in declared_calls if (name, c) not in calls],
            "errors": [e for e in declared_errors if (name, e) in errors],
            "errors_unreachable": [e for e in declared_errors if f"{name}.{e}" in unreachable],
            "errors_missing": [
                e
                for e in declared_errors
                if (name, e) not in errors and f"{name}.{e}" not in unreachable
            ],
        }
    return table


def check_coverage(vectors: list[Vector]) -> None:
    missing = {
        name: (row["calls_missing"], row["errors_missing"])
        for name, row in coverage_table(vectors).items()
        if row["calls_missing"] or row["errors_missing"]
    }
    if missing:
        raise GenerationError(f"calls/errors neither covered nor unreachable: {missing}")
