"""UnixFS import profiles (IPIP-0499): every parameter that decides a file's CID."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024
KiB = 1024


@dataclass(frozen=True, slots=True)
class ImportProfile:
    """How content is chunked and linked into a UnixFS DAG.

    Both the local CID computation and ``add`` (which passes these to Kubo explicitly, never
    relying on the daemon's configured defaults) follow it, so the same bytes give the same CID.
    """

    name: str
    cid_version: int
    raw_leaves: bool
    chunk_size: int
    max_links: int
    hash_function: str = "sha2-256"
    # Directories whose estimated size exceeds this (strictly) become HAMT shards.
    hamt_threshold: int = 256 * KiB
    # Buckets per HAMT shard node (a power of two; 256 in both IPIP-0499 profiles).
    hamt_fanout: int = 256
    # "block": the whole serialized dag-pb node; "links": names plus CIDs only (legacy).
    hamt_estimation: str = "block"
    include_hidden: bool = False

    def __post_init__(self) -> None:
        if self.cid_version not in (0, 1):
            raise ValueError("cid_version must be 0 or 1")
        if self.cid_version == 0 and self.raw_leaves:
            raise ValueError("CIDv0 cannot name raw leaves")
        if not 1 <= self.chunk_size <= MiB:
            raise ValueError("chunk_size must be between 1 byte and 1 MiB")
        if self.max_links < 2:
            raise ValueError("max_links must be at least 2")
        if self.hash_function != "sha2-256":
            raise ValueError("only sha2-256 is supported")
        if (
            self.hamt_fanout < 2
            or self.hamt_fanout > 1024
            or self.hamt_fanout & (self.hamt_fanout - 1)
        ):
            raise ValueError("hamt_fanout must be a power of two between 2 and 1024")
        if self.hamt_estimation not in ("block", "links"):
            raise ValueError("hamt_estimation must be 'block' or 'links'")

    def kubo_add_params(self) -> dict[str, str]:
        """The ``/api/v0/add`` query parameters that make Kubo build exactly this DAG."""
        return {
            "cid-version": str(self.cid_version),
            "raw-leaves": "true" if self.raw_leaves else "false",
            "chunker": f"size-{self.chunk_size}",
            "hash": self.hash_function,
            "max-file-links": str(self.max_links),
            "trickle": "false",
        }


UNIXFS_V1_2025 = ImportProfile(
    name="unixfs-v1-2025",
    cid_version=1,
    raw_leaves=True,
    chunk_size=MiB,
    max_links=1024,
    hamt_estimation="block",
)

UNIXFS_V0_2015 = ImportProfile(
    name="unixfs-v0-2015",
    cid_version=0,
    raw_leaves=False,
    chunk_size=256 * KiB,
    max_links=174,
    hamt_estimation="links",
)

PROFILES = {p.name: p for p in (UNIXFS_V1_2025, UNIXFS_V0_2015)}
