"""A Substrate-compatible development chain in Python.

devnode speaks Substrate's JSON-RPC and SCALE so that unmodified clients (substrate-interface,
polkadot.js) use it as they would a real node: `async with DevNode(config) as node:` starts one
in-process; the `devnode` command starts one from the shell.
"""

from ._block import Block, BlockHash, Header
from ._chain import DEV_ACCOUNTS, Chain
from ._config import DevNodeConfig
from ._errors import (
    ConfigError,
    DevnodeError,
    DispatchFailure,
    RpcError,
    ScaleDecodeError,
    TransactionRejected,
)
from ._node import DevNode
from ._runtime import RUNTIME, Runtime

__all__ = [
    "DEV_ACCOUNTS",
    "RUNTIME",
    "Block",
    "BlockHash",
    "Chain",
    "ConfigError",
    "DevNode",
    "DevNodeConfig",
    "DevnodeError",
    "DispatchFailure",
    "Header",
    "RpcError",
    "Runtime",
    "ScaleDecodeError",
    "TransactionRejected",
]
