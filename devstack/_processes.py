"""Kubo and Redis started as local processes on random loopback ports, with throwaway state."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["LocalKubo", "LocalRedis", "ServiceError", "free_port", "kubo_binary"]

ROOT = Path(__file__).resolve().parents[1]
_LISTEN = re.compile(r"(RPC API|Gateway) server listening on /ip4/([\d.]+)/tcp/(\d+)")


class ServiceError(RuntimeError):
    """A local service could not be found or started."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def kubo_binary() -> str:
    """The project's Kubo (`.tools/bin/ipfs`, built by scripts/setup.sh), else one on PATH."""
    local = ROOT / ".tools" / "bin" / "ipfs"
    if local.exists():
        return str(local)
    found = shutil.which("ipfs")
    if found is None:
        raise ServiceError("Kubo not found: run `bash scripts/setup.sh` (builds .tools/bin/ipfs)")
    return found


def _stop(proc: subprocess.Popen[str] | subprocess.Popen[bytes], sig: int) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@dataclass
class LocalKubo:
    """`ipfs daemon --offline` with its own repository; API and gateway on random ports."""

    binary: str
    repo: Path
    api_url: str
    gateway_url: str
    proc: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, repo: Path, timeout: float = 60) -> LocalKubo:
        binary = kubo_binary()
        env = {**os.environ, "IPFS_PATH": str(repo), "GOLOG_LOG_LEVEL": "error"}
        subprocess.run(
            [binary, "init", "--profile=test", "--empty-repo"],
            env=env,
            check=True,
            capture_output=True,
            timeout=timeout,
        )
        proc = subprocess.Popen(
            [binary, "daemon", "--offline"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        urls: dict[str, str] = {}
        output: list[str] = []
        deadline = time.monotonic() + timeout
        for line in proc.stdout:
            output.append(line)
            if match := _LISTEN.search(line):
                urls[match.group(1)] = f"http://{match.group(2)}:{match.group(3)}"
            if "Daemon is ready" in line or time.monotonic() > deadline:
                break
        if "RPC API" not in urls or "Gateway" not in urls:
            proc.kill()
            raise ServiceError("Kubo did not start:\n" + "".join(output))
        stream = proc.stdout
        # Keep draining the daemon's output so it never blocks on a full pipe.
        threading.Thread(target=lambda: output.extend(stream), daemon=True).start()
        return cls(binary, repo, urls["RPC API"], urls["Gateway"], proc, output)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "IPFS_PATH": str(self.repo)}
        return subprocess.run(
            [self.binary, *args], env=env, check=True, text=True, capture_output=True, timeout=600
        )

    def stop(self) -> None:
        _stop(self.proc, signal.SIGINT)


@dataclass
class LocalRedis:
    """`redis-server` on a random loopback port, without persistence."""

    port: int
    directory: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls, directory: Path) -> LocalRedis:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceError("redis-server not found: run `bash scripts/setup.sh`")
        directory.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            port = free_port()
            proc = subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
                 "--save", "", "--appendonly", "no", "--protected-mode", "yes",
                 "--logfile", str(directory / "redis.log")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                        conn.sendall(b"PING\r\n")
                        if conn.recv(16).startswith(b"+PONG"):
                            return cls(port, directory, proc)
                except OSError:
                    time.sleep(0.02)
            proc.kill()
            proc.wait(timeout=10)
        raise ServiceError(f"redis-server did not start (see {directory / 'redis.log'})")

    def kill(self) -> None:
        """Fault injection: the server dies (SIGKILL), as a crashed Redis would."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        _stop(self.proc, signal.SIGTERM)
