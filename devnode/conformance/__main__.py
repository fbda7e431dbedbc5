"""`python -m devnode.conformance [--out DIR]`: write the conformance vectors (`make vectors`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import CONFORMANCE_DIR, write_vectors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devnode.conformance", description=__doc__)
    parser.add_argument(
        "--out", type=Path, default=CONFORMANCE_DIR, help="where vectors/ and signatures.json go"
    )
    args = parser.parse_args(argv)
    steps = 0
    for path in write_vectors(args.out):
        if path.parent.name != "vectors":
            continue
        count = len(json.loads(path.read_text())["steps"])
        steps += count
        print(f"{path}: {count} steps")
    print(f"{steps} steps in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
