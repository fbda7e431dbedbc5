"""The account-key loader: moved to `protocol` (see `protocol.load_keypair` for where a key
comes from). Re-exported here so that `runtime_types.load_keypair` keeps working."""

from __future__ import annotations

from protocol import KeyLoadError, load_keypair

__all__ = ["KeyLoadError", "load_keypair"]
