"""What a dApp developer's process pays to import the client side, against the engine it no
longer needs.

Each import runs in a fresh interpreter (three times; the median is printed): wall time and the
number of modules loaded. The baseline, measured in the same run, is `import inference_engine`,
which fetching a result imported before `protocol` existed (it brings torch).

    .venv/bin/python bench/client_import.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

PROBE = """
import json, sys, time
started = time.perf_counter()
import {module}
took = time.perf_counter() - started
heavy = sorted(m for m in ("torch", "transformers", "redis") if m in sys.modules)
print(json.dumps({{"s": took, "modules": len(sys.modules), "heavy": heavy}}))
"""


def measure(module: str, runs: int = 3) -> tuple[float, int, list[str]]:
    results = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", PROBE.format(module=module)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    took = statistics.median(r["s"] for r in results)
    return took, results[-1]["modules"], results[-1]["heavy"]


def main() -> None:
    base_s, base_modules, base_heavy = measure("inference_engine")
    print(f"baseline import inference_engine: {base_s:.2f} s, {base_modules} modules, {base_heavy}")
    for module in ("protocol", "inference_client", "model_registry"):
        took, modules, heavy = measure(module)
        print(
            f"import {module}: {took:.2f} s ({took / base_s:.2f} of the baseline), "
            f"{modules} modules, heavy: {heavy or 'none'}"
        )


if __name__ == "__main__":
    main()
