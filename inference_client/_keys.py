"""The account key: from a keystore file or the environment, never from argv, never logged."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from substrateinterface import Keypair

from ._errors import KeyLoadError

__all__ = ["load_keypair"]


def load_keypair(
    key_file: str | Path | None = None,
    *,
    env_prefix: str = "INFER_",
    environ: Mapping[str, str] | None = None,
) -> Keypair:
    """Load the signing key.

    `key_file` (or `{env_prefix}KEY_FILE`) is either a polkadot.js JSON keystore (its password
    in `{env_prefix}KEY_PASSWORD`) or a text file whose first line is a secret URI, a mnemonic
    or a `0x` hex seed; it must not be readable by group or others. Without a file, the
    secret URI is read from `{env_prefix}KEY_URI`. Errors never include the secret.
    """
    env = os.environ if environ is None else environ
    path = key_file or env.get(f"{env_prefix}KEY_FILE")
    if path:
        return _from_file(Path(path), env.get(f"{env_prefix}KEY_PASSWORD"))
    uri = env.get(f"{env_prefix}KEY_URI")
    if uri:
        return _from_secret(uri.strip(), f"${env_prefix}KEY_URI")
    raise KeyLoadError(
        f"no key: give a keystore file (--key-file or ${env_prefix}KEY_FILE) "
        f"or a secret URI in ${env_prefix}KEY_URI"
    )


def _from_file(path: Path, password: str | None) -> Keypair:
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeyLoadError(f"cannot read key file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyLoadError(f"key file {path} is accessible by others: chmod 600 {path}")
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            raise KeyLoadError(f"key file {path} is not valid JSON") from None
        if password is None:
            raise KeyLoadError(f"key file {path} is an encrypted keystore: set the password env")
        try:
            return Keypair.create_from_encrypted_json(data, password)
        except Exception:  # the library's errors may echo key material: never chain them
            raise KeyLoadError(f"cannot decrypt keystore {path} (wrong password?)") from None
    first = stripped.splitlines()[0].strip() if stripped else ""
    return _from_secret(first, str(path))


def _from_secret(secret: str, origin: str) -> Keypair:
    if not secret:
        raise KeyLoadError(f"empty secret in {origin}")
    try:
        if secret.startswith("0x") and len(secret) == 66:
            return Keypair.create_from_seed(secret)
        return Keypair.create_from_uri(secret)
    except Exception:  # do not chain: the original message may contain the secret
        raise KeyLoadError(f"the secret in {origin} is not a valid URI, mnemonic or seed") from None
