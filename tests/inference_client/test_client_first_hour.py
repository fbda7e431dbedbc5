"""A dApp developer's first hour: a wrong URL fails fast and names the setting, and a request's
stages are visible as they happen (CLI on stderr, Python callback and async iterator)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time

import pytest
from client_support import ALICE, BOB, Env

from inference_client import InferenceClient, NodeUnreachable, Stage, StageName
from ocw_daemon import Daemon

pytestmark = pytest.mark.timeout(120)

#: Without a validator drawn (the only provider cannot validate itself)
STAGES = [
    StageName.PLACED,
    StageName.ASSIGNED,
    StageName.RESULT_SUBMITTED,
    StageName.VALIDATION_DRAWN,
    StageName.PAID,
    StageName.OUTPUT_VERIFIED,
]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_env(**extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("INFER_")}
    return {**environ, "INFER_KEY_URI": "//Alice", **extra}


@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_closed_port_fails_within_3_seconds_and_names_the_setting(how: str) -> None:
    url = f"ws://127.0.0.1:{closed_port()}"
    args = ["--model", "0x" + "11" * 32, "--prompt", "hi", "--max-tokens", "4"]
    if how == "flag":
        args += ["--url", url]
        environ = cli_env()
    else:
        environ = cli_env(INFER_CHAIN_URL=url)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "inference_client", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )
    took = time.monotonic() - started
    assert done.returncode == 1 and done.stdout == ""
    # Python start-up and imports are measured alongside, so a loaded machine does not fail this
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import inference_client.__main__"], check=True)
    imports = time.monotonic() - started
    assert took - imports < 2.0 and took < 3.0 + imports, f"took {took:.1f} s ({imports:.1f} s)"
    err = done.stderr
    assert f"cannot reach the node at {url} (connection refused)" in err
    for setting in ("--url", "$INFER_CHAIN_URL", "chain_url", "devnode --dev"):
        assert setting in err
    assert "waiting for" not in err  # a refusal is not a slow node


async def test_the_python_api_raises_node_unreachable(env: Env) -> None:
    url = f"ws://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    with pytest.raises(NodeUnreachable) as caught:
        async with InferenceClient(env.config(chain_url=url), ALICE):
            pass
    assert time.monotonic() - started < 2.0
    assert caught.value.url == url and caught.value.reason == "connection refused"


def check_stages(stages: list[Stage], request_id: int) -> None:
    assert [s.name for s in stages] == STAGES
    assert all(s.request_id == request_id for s in stages)
    numbers = [s.block_number for s in stages if s.block_number is not None]
    assert numbers == sorted(numbers) and len(numbers) == 5
    assert stages[0].block_number == stages[1].block_number  # assigned in the request's block
    assert stages[1].executor is not None and stages[1].executor in stages[1].detail
    assert stages[3].validator is None and "not sampled" in stages[3].detail
    totals = [s.total_s for s in stages]
    assert totals == sorted(totals)
    assert all(s.elapsed_s >= 0 for s in stages)
    assert abs(sum(s.elapsed_s for s in stages) - stages[-1].total_s) < 1e-6


async def test_infer_reports_its_stages_in_order(env: Env, daemon: Daemon) -> None:
    prompt = "stages of a request"
    seen: list[Stage] = []
    async with InferenceClient(env.config(), ALICE) as client:
        result = await client.infer(
            env.model_id, prompt, max_tokens=4, on_stage=seen.append, plaintext=True
        )
    check_stages(seen, result.request_id)
    assert seen[1].executor == BOB.ss58_address  # the daemon's account
    assert seen[4].detail == f"cost {result.cost}, refund {result.refund}"

    prompt = "stages as an async iterator"
    async with InferenceClient(env.config(), ALICE) as client:
        progress = client.progress(env.model_id, prompt, max_tokens=4, plaintext=True)
        iterated = [stage async for stage in progress]
        result = await progress.result()
    check_stages(iterated, result.request_id)


async def test_infer_cli_prints_stages_on_stderr_and_json_on_stdout(
    env: Env, daemon: Daemon
) -> None:
    prompt = "hello world"

    async def run(*extra: str) -> tuple[str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "inference_client", "--model", env.model_id,
            "--prompt", prompt, "--max-tokens", "3", "--plaintext", *extra,
            env=cli_env(INFER_CHAIN_URL=env.node.url, INFER_IPFS_API_URL=env.kubo.api_url),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            out, err = await asyncio.wait_for(proc.communicate(), 90)
        finally:
            if proc.returncode is None:  # timed out: leave no CLI behind
                proc.kill()
                await asyncio.wait_for(proc.wait(), 10)
        assert proc.returncode == 0, err.decode()
        return out.decode(), err.decode()

    out, err = await run("--json")
    result = json.loads(out)  # stdout is the JSON document alone
    lines = [line for line in err.splitlines() if line.startswith("infer: [")]
    names = [name.value for name in STAGES]
    assert len(lines) == len(names), err
    for line, name in zip(lines, names, strict=True):
        assert f"] {name} (" in line  # plain lines when piped, in order
    assert f"request {result['request_id']}" in lines[0] and "block " in lines[0]
    assert result["executor"] in lines[1]
    assert "\r" not in err  # no terminal redraws when piped

    out, err = await run("--quiet")
    assert out.strip() and "infer: [" not in err  # --quiet: the text, no progress
    assert err.startswith("request ") and len(err.splitlines()) == 1  # only the cost summary


def test_on_a_terminal_the_status_line_is_redrawn_in_place() -> None:
    import io

    from inference_client.__main__ import StatusLine
    from inference_client._stages import StageTimer

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    status = StatusLine(screen)
    timer = StageTimer(status.stage)
    timer.reached(StageName.PLACED, 7, 3, detail="request 7")
    timer.reached(StageName.ASSIGNED, 7, 3, detail="executor X")
    status.finish()
    text = screen.getvalue()
    assert text.count("\r\x1b[K") == 3 and text.endswith("\n") and text.count("\n") == 1
    assert text.index("placed (block 3") < text.index("assigned (block 3")


def test_a_silent_node_gets_a_visible_bounded_wait() -> None:
    """A server that accepts connections and never answers (a stalled node)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)  # the kernel accepts; nothing ever answers
        url = f"ws://127.0.0.1:{server.getsockname()[1]}"
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "inference_client", "--url", url, "--model", "0x" + "11" * 32,
             "--prompt", "hi", "--max-tokens", "4"],
            capture_output=True, text=True, timeout=60, check=False,
            env=cli_env(INFER_CONNECT_TIMEOUT_S="4"),
        )  # fmt: skip
        took = time.monotonic() - started
    assert done.returncode == 1
    assert f"waiting for the node at {url}" in done.stderr
    assert "did not answer in time" in done.stderr and "chain_url" in done.stderr
    assert 2.0 < took < 15.0, f"took {took:.1f} s"
