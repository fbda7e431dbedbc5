"""The account key: from a keystore file or the environment, never from argv, never logged.

The loader is `runtime_types.load_keypair`, shared with model_registry and ocw_daemon; this
wrapper keeps the client's defaults (`INFER_` variables) and its `KeyLoadError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from substrateinterface import Keypair

import runtime_types

from ._errors import KeyLoadError

__all__ = ["load_keypair"]


def load_keypair(
    key_file: str | Path | None = None,
    *,
    env_prefix: str = "INFER_",
    environ: Mapping[str, str] | None = None,
) -> Keypair:
    """Load the signing key (`runtime_types.load_keypair` with the `INFER_` variables).

    In order: `{env_prefix}ACCOUNT_SEED` / `{env_prefix}ACCOUNT_MNEMONIC`; `key_file` (or
    `{env_prefix}KEY_FILE`): a polkadot.js JSON keystore (password in
    `{env_prefix}KEY_PASSWORD`), a JSON `{seed|mnemonic|uri}` object, or a text file whose
    first line is a secret URI, a mnemonic or a `0x` hex seed, not readable by group or others;
    then `{env_prefix}KEY_URI`. Errors never include the secret.
    """
    try:
        return runtime_types.load_keypair(key_file, env_prefix, environ=environ)
    except runtime_types.KeyLoadError as exc:
        raise KeyLoadError(str(exc)) from None  # nothing chained: the message is all there is
