"""Verified, streaming, content-addressed storage of models and payloads on Kubo.

Put bytes in with ``IpfsStore.add`` / ``add_bytes``; know a CID offline with ``cid_of_path`` /
``cid_of_bytes``; get bytes back with ``IpfsStore.fetch``, which accepts only blocks that hash
to the CIDs their verified parents name and writes files through a staging path.
"""

from ._car import encode_car
from ._cid import Cid
from ._client import GatewaySource, IpfsStore, KuboSource, Source
from ._errors import (
    ContentNotFound,
    GatewayUnavailable,
    IntegrityError,
    InvalidCid,
    IpfsStoreClosed,
    IpfsStoreError,
    KuboUnavailable,
    SourceUnavailable,
    TooLarge,
    UnsupportedContent,
)
from ._importer import DagEntry, FileBuilder, cid_of_bytes, cid_of_path
from ._profile import PROFILES, UNIXFS_V0_2015, UNIXFS_V1_2025, ImportProfile
from ._types import AddResult, FetchResult, KuboVersion, NodeId, Progress, StoreConfig

__all__ = [
    "PROFILES",
    "UNIXFS_V0_2015",
    "UNIXFS_V1_2025",
    "AddResult",
    "Cid",
    "ContentNotFound",
    "DagEntry",
    "FetchResult",
    "FileBuilder",
    "GatewaySource",
    "GatewayUnavailable",
    "ImportProfile",
    "IntegrityError",
    "InvalidCid",
    "IpfsStore",
    "IpfsStoreClosed",
    "IpfsStoreError",
    "KuboSource",
    "KuboUnavailable",
    "KuboVersion",
    "NodeId",
    "Progress",
    "Source",
    "SourceUnavailable",
    "StoreConfig",
    "TooLarge",
    "UnsupportedContent",
    "cid_of_bytes",
    "cid_of_path",
    "encode_car",
]
