"""`runtime-node`: the Rust runtime (chain/runtime, built to wasm) on chopsticks, on loopback.

chopsticks (`@acala-network/chopsticks`, installed into `chain/chopsticks/node_modules` by
`make chain-setup`) executes the wasm from the raw dev chain spec that `make chain-build`
writes; every new head is final, blocks are built per transaction (`Instant`, the default), on a
short timer after a submission (`Batch`) or only on `dev_newBlock` (`Manual`), and each block
advances the timestamp by 12 s. `RuntimeNodeConfig` is loaded like every program's settings
(docs/settings.md): defaults < `--config FILE` / `$RUNTIME_NODE_CONFIG` (table
`[runtime_node]`) < `$RUNTIME_NODE_<NAME>` < flags.

    runtime-node [--port 9944] [--host 127.0.0.1] [--spec FILE] [--block-mode Instant]

`LocalRuntimeNode.start()` runs the same command as a child process on a free port, for
devstack and the test fixtures, with the dev RPCs chopsticks adds (`new_blocks`,
`set_block_mode`).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import settings

from ._processes import ROOT, ServiceError, _stop, free_port

__all__ = [
    "MIN_BLOCK_TIME",
    "BlockMode",
    "LocalRuntimeNode",
    "RuntimeNodeConfig",
    "RuntimeNodeConfigError",
    "RuntimeNodeMissing",
    "default_chopsticks",
    "default_spec",
    "json_rpc",
    "main",
    "node_command",
]

BlockMode = Literal["Instant", "Batch", "Manual"]
BUILD_HINT = "run `make chain-build` (docs/runtime.md)"
#: chopsticks logs this once its RPC server accepts connections
_READY = "RPC listening on"


class RuntimeNodeMissing(ServiceError):
    """chopsticks or the raw chain spec is not there: the runtime has not been built."""


class RuntimeNodeConfigError(ServiceError, settings.SettingsError):
    """A bad runtime-node setting (TOML, `RUNTIME_NODE_*`, flag)."""


def default_spec() -> Path:
    """Where `scripts/chain-spec.sh` writes the raw dev chain spec."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "genai-substrate" / "chain-spec" / "genai-dev.raw.json"


def default_chopsticks() -> Path:
    """chopsticks as `make chain-setup` installs it (`npm ci` in chain/chopsticks)."""
    return ROOT / "chain" / "chopsticks" / "node_modules" / ".bin" / "chopsticks"


@dataclass(frozen=True)
class RuntimeNodeConfig(
    settings.Settings,
    env_prefix="RUNTIME_NODE_",
    table="runtime_node",
    error=RuntimeNodeConfigError,
):
    host: str = "127.0.0.1"
    port: int = 9944
    #: the raw chain spec (default: `default_spec()`)
    spec: Path | None = None
    #: the chopsticks executable (default: `default_chopsticks()`)
    chopsticks: Path | None = None
    block_mode: BlockMode = "Instant"

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise RuntimeNodeConfigError(f"setting port: {self.port} is not a TCP port")

    @property
    def spec_path(self) -> Path:
        return self.spec or default_spec()

    @property
    def chopsticks_path(self) -> Path:
        return self.chopsticks or default_chopsticks()


def node_command(config: RuntimeNodeConfig) -> list[str]:
    """The chopsticks command line; `RuntimeNodeMissing` when chopsticks or the spec is not
    there (both come from `make chain-build`)."""
    chopsticks, spec = config.chopsticks_path, config.spec_path
    if not (chopsticks.is_file() and os.access(chopsticks, os.X_OK)):
        raise RuntimeNodeMissing(f"chopsticks is not installed at {chopsticks}: {BUILD_HINT}")
    if not spec.is_file():
        raise RuntimeNodeMissing(f"no raw chain spec at {spec}: {BUILD_HINT}")
    return [
        str(chopsticks),
        "--genesis", str(spec),
        "--host", config.host,
        "--port", str(config.port),
        "--build-block-mode", config.block_mode,
    ]  # fmt: skip


def json_rpc(url: str, method: str, params: list[Any], timeout: float = 30) -> Any:
    """One JSON-RPC call over HTTP; `ServiceError` for an error answer."""
    body = json.dumps({"id": 1, "jsonrpc": "2.0", "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        reply = json.loads(answer.read())
    if "error" in reply:
        raise ServiceError(f"{method}: {reply['error']}")
    return reply.get("result")


#: The runtime builds a block in about 0.3 s of wasm: asked more often it would do nothing else
MIN_BLOCK_TIME = 0.5


@dataclass
class LocalRuntimeNode:
    """`runtime-node` as a child process on a free loopback port (see the module docstring).

    With a `block_time` a thread asks for a block (`dev_newBlock`) that often (at least
    `MIN_BLOCK_TIME` apart), as devnode's `--block-time` seals one: chopsticks otherwise builds
    blocks only for transactions, and deadlines counted in blocks would never come.
    """

    port: int
    proc: subprocess.Popen[bytes]
    output: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=200))
    #: what stopped the block thread early (the node died under it), for a test to show
    tick_errors: list[Exception] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    _ticker: threading.Thread | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(
        cls,
        *,
        port: int = 0,
        spec: Path | None = None,
        block_mode: BlockMode = "Instant",
        block_time: float | None = None,
        timeout: float = 90,
    ) -> LocalRuntimeNode:
        """Start chopsticks on `port` (0: a free one) and return once it serves RPC (3 to 4 s
        here)."""
        port = port or free_port()
        config = RuntimeNodeConfig(port=port, spec=spec, block_mode=block_mode)
        proc = subprocess.Popen(
            node_command(config), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        node = cls(port, proc)
        try:
            node._wait_ready(timeout)
        except BaseException:
            node.stop()
            raise
        if block_time is not None:
            every = max(block_time, MIN_BLOCK_TIME)
            node._ticker = threading.Thread(target=node._tick, args=(every,), daemon=True)
            node._ticker.start()
        return node

    def _tick(self, every: float) -> None:
        while not self._stopping.wait(every):
            try:
                self.new_blocks(1)
            except (OSError, ServiceError) as exc:  # the node stopped under us
                if not self._stopping.is_set():
                    self.tick_errors.append(exc)
                return

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        pending = b""
        while True:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(remaining, 0))
            if not ready:
                raise ServiceError(f"runtime-node did not start in {timeout:.0f} s:\n{self.log}")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise ServiceError(f"runtime-node exited ({self.proc.wait()}):\n{self.log}")
            pending += chunk
            *lines, pending = pending.split(b"\n")
            self.output.extend(line.decode(errors="replace") for line in lines)
            if any(_READY in line and f":{self.port}" in line for line in self.output):
                break

        def drain() -> None:  # a full pipe would stall chopsticks
            for line in iter(lambda: os.read(fd, 65536), b""):
                self.output.extend(line.decode(errors="replace").splitlines())

        threading.Thread(target=drain, daemon=True).start()

    @property
    def log(self) -> str:
        return "\n".join(self.output)

    # -- chopsticks' dev RPCs ----------------------------------------------------------------

    def rpc(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call over HTTP (chopsticks serves HTTP on the WebSocket's port)."""
        return json_rpc(self.http_url, method, list(params))

    def new_blocks(self, count: int = 1) -> str:
        """Build `count` blocks now (`dev_newBlock`), whatever the block mode; the new head."""
        return str(self.rpc("dev_newBlock", {"count": count}))

    def set_block_mode(self, mode: BlockMode) -> None:
        self.rpc("dev_setBlockBuildMode", mode)

    def stop(self) -> None:
        self._stopping.set()
        if self._ticker is not None and self._ticker is not threading.current_thread():
            self._ticker.join(timeout=30)
        _stop(self.proc, signal.SIGTERM)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runtime-node",
        description="The Rust runtime (wasm) on chopsticks, with the dev genesis, until SIGTERM.",
    )
    parser.add_argument("--config", type=Path, help="TOML file with a [runtime_node] table")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 9944)")
    parser.add_argument("--spec", type=Path, help=f"raw chain spec (default {default_spec()})")
    parser.add_argument("--chopsticks", type=Path, help="the chopsticks executable")
    parser.add_argument(
        "--block-mode",
        choices=("Instant", "Batch", "Manual"),
        help="a block per transaction (Instant, the default), batched, or on dev_newBlock only",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    flags = {
        "host": args.host,
        "port": args.port,
        "spec": args.spec,
        "chopsticks": args.chopsticks,
        "block_mode": args.block_mode,
    }
    try:
        command = node_command(RuntimeNodeConfig.load(args.config, flags=flags))
    except ServiceError as exc:
        print(f"runtime-node: {exc}", file=sys.stderr)
        return 2
    sys.stdout.flush()
    # exec: SIGTERM and SIGINT reach chopsticks itself, which stops and exits.
    os.execv(command[0], command)
    return 0  # not reached
