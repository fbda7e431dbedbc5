"""Configuration and result records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ._cid import Cid
from ._profile import UNIXFS_V1_2025, ImportProfile

GiB = 1024**3

# progress(done_bytes, total_bytes): total is None while unknown.
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """Where the content lives and how hard to try.

    ``api_url`` is Kubo's RPC API (``Addresses.API``). ``gateways`` are trustless gateways
    (``https://host``) tried, in order, after the local Kubo for retrieval; everything they
    send is verified, so they need not be trusted.
    """

    api_url: str = "http://127.0.0.1:5001"
    # The same Kubo's gateway (``Addresses.Gateway``), if reachable: fetches from the local
    # node then use its trustless CAR endpoint instead of the slower ``dag/export``.
    kubo_gateway_url: str | None = None
    gateways: tuple[str, ...] = ()
    use_kubo_for_fetch: bool = True
    # Fetch a file with raw leaves from Kubo as its verified interior nodes plus the plain
    # content stream cut into leaves (each hashed against its CID), instead of as a CAR, which
    # Kubo serves about 3x slower. Plain directories take it too, file by file (up to
    # ``parallel_files`` streams at once for files Kubo gets from peers; one at a time for
    # files it holds); HAMT shards and files with dag-pb leaves or inline data come as a CAR
    # of that entry only.
    fast_file_fetch: bool = True
    parallel_files: int = 4
    profile: ImportProfile = UNIXFS_V1_2025
    connect_timeout: float = 5.0
    # Whole-call limit for small RPC calls (version, id, pin...).
    request_timeout: float = 120.0
    # Longest silence tolerated while streaming an upload response or a CAR.
    read_timeout: float = 60.0
    # Connection attempts after the first one, with exponential backoff.
    retries: int = 2
    retry_backoff: float = 0.2
    max_fetch_size: int = 256 * GiB
    max_add_size: int = 256 * GiB
    # Largest block accepted from a CAR stream (Kubo and bitswap refuse blocks over 2 MiB).
    max_block_size: int = 2 * 1024 * 1024
    # Backlog of the file writer thread, in blocks of max_block_size: the network waits
    # while more than queue_blocks * max_block_size verified bytes are not yet written.
    queue_blocks: int = 8
    upload_chunk_size: int = 1024 * 1024
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.retries < 0 or self.queue_blocks < 1 or self.upload_chunk_size < 1:
            raise ValueError("retries >= 0, queue_blocks >= 1 and upload_chunk_size >= 1")
        if self.parallel_files < 1:
            raise ValueError("parallel_files must be >= 1")


@dataclass(frozen=True, slots=True)
class AddResult:
    cid: Cid
    name: str
    size: int  # bytes of file content uploaded
    profile: str  # the import profile the CID was built with
    pinned: bool


@dataclass(frozen=True, slots=True)
class FetchResult:
    cid: Cid
    path: Path
    size: int  # bytes of file content written
    blocks: int  # verified blocks
    is_dir: bool
    source: str


@dataclass(frozen=True, slots=True)
class KuboVersion:
    version: str
    commit: str
    system: str
    golang: str


@dataclass(frozen=True, slots=True)
class NodeId:
    peer_id: str
    agent_version: str
    addresses: tuple[str, ...]
