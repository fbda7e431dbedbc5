"""Kubo and Redis started as local processes on random loopback ports, with throwaway state.

`LocalKubo` is one Kubo node: offline by default, or online (`online=True`) with its swarm on
loopback, no bootstrap peers and no content routing, so it exchanges blocks over bitswap only
with the peers it is connected to (`connect`). `LocalRedis` is one `redis-server`;
`LocalRedisCluster` is a real Redis Cluster (3 masters, a replica each) on loopback, built by
`redis-cli --cluster create`, with a short `cluster-node-timeout` so failovers take seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ClusterNode",
    "LocalKubo",
    "LocalRedis",
    "LocalRedisCluster",
    "NodeInfo",
    "ServiceError",
    "free_port",
    "kubo_binary",
]

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
    """`ipfs daemon` with its own repository; API, gateway (and swarm) on random ports.

    Offline by default. With ``online=True`` the swarm listens on loopback and content routing
    is off (`Routing.Type none`, no bootstrap, no mDNS): blocks travel over bitswap between
    peers joined with `connect`, and nowhere else.
    """

    binary: str
    repo: Path
    api_url: str
    gateway_url: str
    proc: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    online: bool = False

    @classmethod
    def start(cls, repo: Path, timeout: float = 60, *, online: bool = False) -> LocalKubo:
        binary = kubo_binary()
        env = {
            **os.environ,
            "IPFS_PATH": str(repo),
            "GOLOG_LOG_LEVEL": "error",
            "IPFS_TELEMETRY": "off",
        }
        subprocess.run(
            [binary, "init", "--profile=test", "--empty-repo"],
            env=env,
            check=True,
            capture_output=True,
            timeout=timeout,
        )
        if online:
            subprocess.run(
                [binary, "config", "Routing.Type", "none"],
                env=env,
                check=True,
                capture_output=True,
                timeout=timeout,
            )
        proc = subprocess.Popen(
            [binary, "daemon", *(() if online else ("--offline",))],
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
        return cls(binary, repo, urls["RPC API"], urls["Gateway"], proc, output, online)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "IPFS_PATH": str(self.repo), "IPFS_TELEMETRY": "off"}
        return subprocess.run(
            [self.binary, *args], env=env, check=True, text=True, capture_output=True, timeout=600
        )

    def _rpc(self, command: str, **params: str) -> object:
        query = "&".join(f"{k}={urllib.parse.quote(v, safe='')}" for k, v in params.items())
        url = f"{self.api_url}/api/v0/{command}" + (f"?{query}" if query else "")
        with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=30) as r:
            return json.loads(r.read() or b"null")

    @property
    def peer_id(self) -> str:
        info = self._rpc("id")
        assert isinstance(info, dict)
        return str(info["ID"])

    def swarm_address(self) -> str:
        """This node's loopback TCP swarm address, with its peer id (`/ip4/.../p2p/...`)."""
        info = self._rpc("id")
        assert isinstance(info, dict)
        for address in info.get("Addresses") or ():
            if address.startswith("/ip4/127.0.0.1/tcp/") and "/p2p/" in address:
                return str(address)
        raise ServiceError(f"Kubo at {self.api_url} has no loopback TCP swarm address")

    def peers(self) -> set[str]:
        """Peer ids this node has a live swarm connection to."""
        info = self._rpc("swarm/peers")
        assert isinstance(info, dict) or info is None
        return {str(p["Peer"]) for p in ((info or {}).get("Peers") or ())}

    def connect(self, other: LocalKubo, timeout: float = 30) -> None:
        """Join ``other`` over the swarm (both must be online), and keep the link: each adds the
        other to its peering set, so Kubo reconnects it and never trims it."""
        if not (self.online and other.online):
            raise ServiceError("both Kubo nodes must be started with online=True")
        mine, theirs = self.swarm_address(), other.swarm_address()
        self.cli("swarm", "peering", "add", theirs)
        other.cli("swarm", "peering", "add", mine)
        deadline = time.monotonic() + timeout
        peer = other.peer_id
        while peer not in self.peers():
            if time.monotonic() > deadline:
                raise ServiceError(f"Kubo {self.api_url} could not connect to {theirs}")
            # A dial is an event of its own; retry it until the connection shows up.
            subprocess.run(
                [self.binary, "swarm", "connect", theirs],
                env={**os.environ, "IPFS_PATH": str(self.repo)},
                capture_output=True,
                timeout=30,
            )
            if peer not in self.peers():
                time.sleep(0.1)

    def disconnect(self, other: LocalKubo) -> None:
        """Leave ``other``: drop it from both peering sets and close the connection."""
        for a, b in ((self, other), (other, self)):
            peer = b.peer_id
            subprocess.run(
                [a.binary, "swarm", "peering", "rm", peer],
                env={**os.environ, "IPFS_PATH": str(a.repo)},
                capture_output=True,
                timeout=30,
            )
            subprocess.run(
                [a.binary, "swarm", "disconnect", b.swarm_address()],
                env={**os.environ, "IPFS_PATH": str(a.repo)},
                capture_output=True,
                timeout=30,
            )

    def has_block(self, cid: str) -> bool:
        """Whether this node's blockstore holds ``cid`` (asked offline: nothing is fetched)."""
        done = subprocess.run(
            [self.binary, "--offline", "block", "stat", cid],
            env={**os.environ, "IPFS_PATH": str(self.repo)},
            capture_output=True,
            timeout=30,
        )
        return done.returncode == 0

    def stop(self) -> None:
        _stop(self.proc, signal.SIGINT)

    def kill(self) -> None:
        """Fault injection: the node dies (SIGKILL)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


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
        binary = _redis_binary("redis-server")
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
                if _ping(port):
                    return cls(port, directory, proc)
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


def _redis_binary(name: str) -> str:
    binary = shutil.which(name)
    if binary is None:
        raise ServiceError(f"{name} not found: run `bash scripts/setup.sh`")
    return binary


@dataclass
class ClusterNode:
    """One `redis-server` of a `LocalRedisCluster`: its client port and cluster bus port."""

    port: int
    bus_port: int
    directory: Path
    proc: subprocess.Popen[bytes]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass(frozen=True)
class NodeInfo:
    """A line of `CLUSTER NODES`: who serves what."""

    node_id: str
    port: int
    role: str  # "master" or "replica"
    master_id: str | None
    failed: bool
    slots: tuple[tuple[int, int], ...]


def _parse_nodes(text: str) -> list[NodeInfo]:
    found: list[NodeInfo] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        flags = parts[2].split(",")
        port = int(parts[1].split("@")[0].rsplit(":", 1)[1])
        slots: list[tuple[int, int]] = []
        for item in parts[8:]:
            if item.startswith("["):
                continue  # a slot being migrated
            low, _, high = item.partition("-")
            slots.append((int(low), int(high or low)))
        found.append(
            NodeInfo(
                node_id=parts[0],
                port=port,
                role="master" if "master" in flags else "replica",
                master_id=None if parts[3] == "-" else parts[3],
                failed="fail" in flags or "fail?" in flags,
                slots=tuple(slots),
            )
        )
    return found


@dataclass
class LocalRedisCluster:
    """A real Redis Cluster on loopback: 3 masters with one replica each, without persistence.

    Built like a production one (`redis-cli --cluster create ... --cluster-replicas 1`), with
    `cluster-node-timeout` of ``node_timeout_ms`` (1 s) so a killed master's replica is
    promoted within seconds. ``url`` names it by its seed nodes for `cache.CacheConfig`.
    """

    nodes: list[ClusterNode]
    directory: Path
    node_timeout_ms: int
    # The slots each killed master served when it died (for ``wait_failover``).
    killed_slots: dict[int, tuple[tuple[int, int], ...]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(n.address for n in self.nodes)

    @property
    def seeds(self) -> tuple[str, ...]:
        return tuple(n.address for n in self.nodes)

    @classmethod
    def start(
        cls, directory: Path, *, masters: int = 3, node_timeout_ms: int = 1000, timeout: float = 60
    ) -> LocalRedisCluster:
        server = _redis_binary("redis-server")
        cli = _redis_binary("redis-cli")
        directory.mkdir(parents=True, exist_ok=True)
        nodes: list[ClusterNode] = []
        try:
            for _ in range(masters * 2):
                nodes.append(cls._start_node(server, directory, node_timeout_ms))
            created = subprocess.run(
                [cli, "--cluster", "create", *(n.address for n in nodes),
                 "--cluster-replicas", "1", "--cluster-yes"],
                capture_output=True, text=True, timeout=timeout,
            )  # fmt: skip
            if created.returncode != 0:
                raise ServiceError(f"redis-cli --cluster create failed:\n{created.stdout}")
            cluster = cls(nodes, directory, node_timeout_ms)
            cluster.wait_healthy(timeout)
            return cluster
        except BaseException:
            for node in nodes:
                _stop(node.proc, signal.SIGKILL)
            raise

    @staticmethod
    def _start_node(server: str, directory: Path, node_timeout_ms: int) -> ClusterNode:
        for _ in range(5):
            port, bus_port = free_port(), free_port()
            if port == bus_port:
                continue
            home = directory / str(port)
            home.mkdir(parents=True, exist_ok=True)
            proc = subprocess.Popen(
                [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(home),
                 "--cluster-enabled", "yes", "--cluster-port", str(bus_port),
                 "--cluster-config-file", str(home / "nodes.conf"),
                 "--cluster-node-timeout", str(node_timeout_ms),
                 # Promote a replica however long its master has been gone.
                 "--cluster-replica-validity-factor", "0",
                 "--save", "", "--appendonly", "no", "--protected-mode", "yes",
                 "--logfile", str(home / "redis.log")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and proc.poll() is None:
                if _ping(port):
                    return ClusterNode(port, bus_port, home, proc)
                time.sleep(0.02)
            proc.kill()
            proc.wait(timeout=10)
        raise ServiceError(f"a cluster redis-server did not start (see {directory})")

    def command(self, port: int, *args: str) -> str:
        """One command to one node through `redis-cli` (its reply as text)."""
        done = subprocess.run(
            [_redis_binary("redis-cli"), "-h", "127.0.0.1", "-p", str(port), *args],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        if done.returncode != 0:
            raise ServiceError(f"redis-cli -p {port} {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def _live(self) -> list[ClusterNode]:
        return [n for n in self.nodes if n.alive]

    def topology(self) -> list[NodeInfo]:
        """`CLUSTER NODES` as seen by the first live node."""
        for node in self._live():
            try:
                return _parse_nodes(self.command(node.port, "CLUSTER", "NODES"))
            except ServiceError:
                continue
        raise ServiceError("no live node in the cluster")

    def state(self, port: int) -> dict[str, str]:
        text = self.command(port, "CLUSTER", "INFO")
        return dict(line.split(":", 1) for line in text.split() if ":" in line)

    def healthy(self) -> bool:
        """Every live node says `cluster_state:ok`, all slots served by live masters."""
        try:
            live = self._live()
            if not live or any(self.state(n.port).get("cluster_state") != "ok" for n in live):
                return False
            ports = {n.port for n in live}
            masters = [n for n in self.topology() if n.role == "master" and not n.failed]
            covered = sum(hi - lo + 1 for m in masters if m.port in ports for lo, hi in m.slots)
            return covered == 16384
        except ServiceError:
            return False

    def wait_healthy(self, timeout: float = 30) -> None:
        """Until ``healthy()`` and every replica of a live master has its link up."""
        deadline = time.monotonic() + timeout
        while True:
            if self.healthy() and self._replicas_synced():
                return
            if time.monotonic() > deadline:
                raise ServiceError(f"the Redis Cluster in {self.directory} is not healthy")
            time.sleep(0.05)

    def _replicas_synced(self) -> bool:
        live = {n.port for n in self._live()}
        for info in self.topology():
            if info.role == "replica" and info.port in live and not info.failed:
                text = self.command(info.port, "INFO", "replication")
                if "master_link_status:up" not in text:
                    return False
        return True

    def slot_of(self, key: str) -> int:
        return int(self.command(self._live()[0].port, "CLUSTER", "KEYSLOT", key).strip())

    def master_of(self, key: str) -> int:
        """The port of the live master serving ``key``'s slot."""
        slot = self.slot_of(key)
        for info in self.topology():
            served = any(lo <= slot <= hi for lo, hi in info.slots)
            if info.role == "master" and not info.failed and served:
                return info.port
        raise ServiceError(f"no master serves slot {slot}")

    def replica_of(self, master_port: int) -> int:
        infos = self.topology()
        master = next(i for i in infos if i.port == master_port)
        for info in infos:
            if info.master_id == master.node_id and not info.failed:
                return info.port
        raise ServiceError(f"master {master_port} has no replica")

    def wait_synced(self, master_port: int, timeout: float = 10) -> None:
        """Until the master's replica has acknowledged every write the master has taken."""

        def offset(port: int, field_name: str) -> int:
            text = self.command(port, "INFO", "replication")
            return int(dict(x.split(":", 1) for x in text.split() if ":" in x)[field_name])

        replica = self.replica_of(master_port)
        target = offset(master_port, "master_repl_offset")
        deadline = time.monotonic() + timeout
        while offset(replica, "slave_repl_offset") < target:
            if time.monotonic() > deadline:
                raise ServiceError(f"replica {replica} did not catch up with {master_port}")
            time.sleep(0.02)

    def node(self, port: int) -> ClusterNode:
        return next(n for n in self.nodes if n.port == port)

    def kill(self, port: int) -> None:
        """Fault injection: one node dies (SIGKILL)."""
        with contextlib.suppress(ServiceError):
            info = next((i for i in self.topology() if i.port == port), None)
            if info is not None and info.role == "master":
                self.killed_slots[port] = info.slots
        _stop(self.node(port).proc, signal.SIGKILL)

    def wait_failover(self, dead_port: int, timeout: float = 30) -> int:
        """Until the cluster has promoted the dead master's replica and is healthy again;
        returns the new master's port."""
        deadline = time.monotonic() + timeout
        slots = self.killed_slots.get(dead_port, ())
        if not slots:
            raise ServiceError(f"{dead_port} was not a master killed through kill()")
        while True:
            try:
                infos = self.topology()
                promoted = [
                    i for i in infos
                    if i.role == "master" and not i.failed and i.port != dead_port
                    and slots and set(slots) <= set(i.slots)
                ]  # fmt: skip
                if promoted and self.healthy():
                    return promoted[0].port
            except ServiceError:
                pass
            if time.monotonic() > deadline:
                raise ServiceError(f"no replica of {dead_port} was promoted within {timeout} s")
            time.sleep(0.05)

    def kill_all(self) -> None:
        for node in self.nodes:
            _stop(node.proc, signal.SIGKILL)

    def stop(self) -> None:
        for node in self.nodes:
            _stop(node.proc, signal.SIGTERM)


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False
