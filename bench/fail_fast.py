"""Fail fast: how long each CLI takes to say the node is unreachable, next to the interpreter
start + import of the same package measured in the same run.

Starts nothing. Picks a closed loopback port (bound, then released) and runs, as subprocesses:

- ``infer --url ws://127.0.0.1:PORT --model 0x11.. --prompt hi --max-tokens 4``
  (baseline: ``python -c "import inference_client.__main__"``)
- ``model-registry list --url ws://127.0.0.1:PORT``
  (baseline: ``python -c "import model_registry.__main__"``)
- ``ocw-daemon check --config FILE``, FILE a minimal config whose node (and Kubo and Redis)
  URLs point at the closed port (baseline: ``python -c "import ocw_daemon.__main__"``)

Each command must fail the way a closed port should (its exit code, and "connection refused"
or "unreachable" on stderr); the bench stops otherwise, rather than timing something else.
Rounds alternate command and baseline; prints, per command, the median and best of each and
the difference (the CLI's own fail-fast time) and ratio, as JSON.

    .venv/bin/python bench/fail_fast.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INFER_ARGS = ("--model", "0x" + "11" * 32, "--prompt", "hi", "--max-tokens", "4")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def script(name: str, module: str) -> list[str]:
    """The console script beside this interpreter (as a user runs it), else `python -m`."""
    beside = Path(sys.executable).parent / name
    return [str(beside)] if beside.is_file() else [sys.executable, "-m", module]


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)
    return time.perf_counter() - started, done


def daemon_config(directory: Path, port: int) -> Path:
    keystore = directory / "key.json"
    keystore.write_text(json.dumps({"seed": "//Alice"}))
    keystore.chmod(0o600)
    path = directory / "ocw.toml"
    path.write_text(
        "[daemon]\n"
        f'node_url = "ws://127.0.0.1:{port}"\n'
        f'ipfs_api_url = "http://127.0.0.1:{port}"\n'
        f'redis_url = "redis://127.0.0.1:{port}/0"\n'
        f'data_dir = "{directory / "data"}"\n'
        f'keystore = "{keystore}"\n'
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    port = closed_port()
    url = f"ws://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INFER_", "MODEL_REGISTRY_"))}
    env = {k: v for k, v in env.items() if not k.startswith("OCW_")}
    env["INFER_KEY_URI"] = "//Alice"
    with tempfile.TemporaryDirectory(prefix="fail-fast-") as tmp:
        config = daemon_config(Path(tmp), port)
        cases = {
            "infer": (
                [*script("infer", "inference_client"), "--url", url, *INFER_ARGS],
                "inference_client.__main__",
                (1,),
                "connection refused",
            ),
            "model-registry list": (
                [*script("model-registry", "model_registry"), "list", "--url", url],
                "model_registry.__main__",
                (5,),
                "connection refused",
            ),
            "ocw-daemon check": (
                [*script("ocw-daemon", "ocw_daemon"), "check", "--config", str(config)],
                "ocw_daemon.__main__",
                None,  # any non-zero code: the check failed
                "unreachable",
            ),
        }
        report: dict[str, dict[str, float | int | str]] = {}
        for name, (argv, module, codes, needle) in cases.items():
            took: list[float] = []
            base: list[float] = []
            for _ in range(args.rounds):
                seconds, done = timed(argv, env)
                bad_code = done.returncode == 0 if codes is None else done.returncode not in codes
                if bad_code or needle not in done.stderr + done.stdout:
                    sys.exit(
                        f"{name}: unexpected result (exit {done.returncode}):\n"
                        f"{done.stdout}\n{done.stderr}"
                    )
                took.append(seconds)
                baseline, done = timed([sys.executable, "-c", f"import {module}"], env)
                if done.returncode != 0:
                    sys.exit(f"baseline import {module} failed:\n{done.stderr}")
                base.append(baseline)
            median, median_base = statistics.median(took), statistics.median(base)
            report[name] = {
                "median_s": round(median, 3),
                "best_s": round(min(took), 3),
                "worst_s": round(max(took), 3),
                "baseline_median_s": round(median_base, 3),
                "baseline_best_s": round(min(base), 3),
                "difference_median_s": round(median - median_base, 3),
                "ratio_median": round(median / median_base, 2),
                "rounds": args.rounds,
            }
    print(json.dumps({"closed_port": port, "results": report}, indent=2))


if __name__ == "__main__":
    main()
