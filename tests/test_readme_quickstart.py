"""The README's quick starts, run as written against a fresh devstack (devnode, Kubo, Redis).

The commands come from the README's fenced blocks marked ```` ```sh quickstart ````, in order,
as one bash script, so the README cannot drift from what the tools do. The stack itself runs on
random loopback ports; the script finds it through the same environment variables a user would
set (`MODEL_REGISTRY_CHAIN_URL`, `INFER_CHAIN_URL`, `OCW_NODE_URL`, ...).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import LocalKubo, LocalRedis, free_port
from tests.devnode.conftest import NodeThread, start_node

pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```sh quickstart\n(.*?)^```", re.MULTILINE | re.DOTALL)


def quickstart_blocks() -> list[str]:
    return BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[NodeThread, LocalKubo, LocalRedis]]:
    node = start_node()
    kubo = LocalKubo.start(tmp_path / "kubo")
    redis = LocalRedis.start(tmp_path / "redis")
    try:
        yield node, kubo, redis
    finally:
        redis.stop()
        kubo.stop()
        node.stop()


def test_the_readme_has_a_quick_start_for_each_kind_of_user() -> None:
    blocks = quickstart_blocks()
    assert len(blocks) == 3
    author, provider, dapp = blocks
    assert "model-registry register --check" in author and "model-registry register ./" in author
    assert "ocw-daemon check" in provider and "ocw-daemon run" in provider
    assert "infer --model" in dapp
    # the stack they assume is started on fixed ports, so it is not run here: checked as bash
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    stack = text.split("## Quick starts", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    assert "devnode --dev" in stack and "ipfs daemon" in stack and "redis-server" in stack
    subprocess.run(["bash", "-n", "-c", stack], check=True)


def test_the_readme_quick_starts_run_green(
    tmp_path: Path, stack: tuple[NodeThread, LocalKubo, LocalRedis]
) -> None:
    node, kubo, redis = stack
    work = tmp_path / "work"
    work.mkdir()
    prefixes = ("MODEL_REGISTRY_", "INFER_", "OCW_")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    environ.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}",
        # this checkout's code, as pytest imports it (also packages added since the install)
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), environ.get("PYTHONPATH")) if p),
        MODEL_REGISTRY_CHAIN_URL=node.url,
        MODEL_REGISTRY_IPFS_API_URL=kubo.api_url,
        INFER_CHAIN_URL=node.url,
        INFER_IPFS_API_URL=kubo.api_url,
        OCW_NODE_URL=node.url,
        OCW_IPFS_API_URL=kubo.api_url,
        OCW_REDIS_URL=redis.url,
        OCW_HTTP_PORT=str(free_port()),
        OCW_DEVICE="cpu",
        INFER_WAIT_TIMEOUT_S="120",  # a failure ends the test instead of waiting 10 minutes
    )
    script = "set -euo pipefail\n" + "\n".join(quickstart_blocks())
    proc = subprocess.Popen(
        ["bash", "-c", script],
        cwd=work,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the daemon started with `&` is in this group
    )
    try:
        out, err = proc.communicate(timeout=420)
    except subprocess.TimeoutExpired as exc:
        out, err = str(exc.stdout or ""), str(exc.stderr or "")
    finally:
        with contextlib.suppress(ProcessLookupError):  # the daemon, if the script started it
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    log = (work / "ocw.log").read_text() if (work / "ocw.log").exists() else ""
    report = f"stdout:\n{out}\nstderr:\n{err}\nocw.log:\n{log[-4000:]}"
    assert proc.returncode == 0, report

    # author: the offline check, then the registered model
    assert "would register" in out and "no findings" in out, report
    assert "status               Active" in out, report
    # provider: the first check names what is missing, the last one passes on every line
    before, _, after = re.split(r"^(registered \S+ in block \d+)$", out, flags=re.M)[:3]
    assert "\u2718 registration" in before and "\u2718 endpoint" in before, report
    checks = [line for line in after.splitlines() if line[:1] in ("\u2714", "\u2718", "-")]
    assert len(checks) >= 10 and all(line.startswith("\u2714") for line in checks), report
    # dApp: the stages on stderr, in order, and the text on stdout after the checks
    stages = [line for line in err.splitlines() if line.startswith("infer: [")]
    order = ["placed", "assigned", "result submitted", "validation drawn", "paid"]
    assert [s.split("] ", 1)[1].split(" (")[0] for s in stages][:5] == order, report
    assert "cost " in err, report
