"""`python -m devstack up`: one JSON line once ready, a gateway the openai client can use,
a clean stop on SIGTERM; on devnode and on the Rust runtime (`--chain`, `chain_kind`)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest

from tests.chains import ChainKind, require_runtime

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(300)


def test_devstack_up_serves_the_gateway_until_sigterm(
    tmp_path: Path, chain_kind: ChainKind
) -> None:
    if chain_kind == "runtime":
        require_runtime()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devstack",
            "up",
            "--chain-port",
            "0",
            "--gateway-port",
            "0",
            "--block-time",
            "0.5",
            "--dir",
            str(tmp_path / "stack"),
            "--chain",
            chain_kind,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith(("OCW_", "INFER_"))},
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 240
        line = ""
        while not line and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                line = proc.stdout.readline()
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else "exited"
        info = json.loads(line)
        assert set(info) >= {
            "chain_url",
            "ipfs_api_url",
            "redis_url",
            "gateway_url",
            "model_id",
            "daemons",
        }
        assert info["gateway_url"].endswith("/v1") and len(info["daemons"]) == 2
        client = openai.OpenAI(base_url=info["gateway_url"], api_key="unused", max_retries=0)
        with client:
            assert [m.id for m in client.models.list().data] == [info["model_id"]]
            chunks = list(
                client.chat.completions.create(
                    model="tiny-chat",
                    messages=[{"role": "user", "content": "hello"}],
                    max_tokens=5,
                    stream=True,
                )
            )
        assert chunks and chunks[-1].choices[0].finish_reason in ("stop", "length")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
