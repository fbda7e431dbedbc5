"""The one account-key loader every package uses (model_registry, inference_client, ocw_daemon).

Where the key comes from, first match wins (`P` is the caller's `env_prefix`):

1. `$P ACCOUNT_SEED` (a `0x` 32-byte seed or a secret URI) or `$P ACCOUNT_MNEMONIC`;
2. a key file: the `path` argument, else `$P KEY_FILE`;
3. `$P KEY_URI` (a secret URI, a mnemonic or a `0x` seed).

A key file must be a regular file with no group or other permission bits (chmod 600). It is
either a polkadot.js JSON keystore (`encoded`, decrypted with `$P KEY_PASSWORD`), a JSON object
with `seed`, `mnemonic` or `uri`, or a text file whose first line is a secret URI, a mnemonic or
a `0x` seed. Error messages never contain the secret, and the underlying library's exception
(whose message may) is never chained.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from substrateinterface import Keypair

from ._errors import KeyLoadError

__all__ = ["KeyLoadError", "load_keypair"]


def load_keypair(
    path: str | Path | None = None,
    env_prefix: str = "",
    *,
    environ: Mapping[str, str] | None = None,
) -> Keypair:
    """The signing key, from the environment or a key file (see the module's docstring)."""
    env = os.environ if environ is None else environ
    seed = env.get(f"{env_prefix}ACCOUNT_SEED")
    if seed:
        return _from_secret(seed.strip(), f"${env_prefix}ACCOUNT_SEED")
    mnemonic = env.get(f"{env_prefix}ACCOUNT_MNEMONIC")
    if mnemonic:
        return _from_secret(mnemonic.strip(), f"${env_prefix}ACCOUNT_MNEMONIC")
    file = path or env.get(f"{env_prefix}KEY_FILE")
    if file:
        return _from_file(Path(file), env.get(f"{env_prefix}KEY_PASSWORD"), env_prefix)
    uri = env.get(f"{env_prefix}KEY_URI")
    if uri:
        return _from_secret(uri.strip(), f"${env_prefix}KEY_URI")
    raise KeyLoadError(
        f"no key: give a key file (or ${env_prefix}KEY_FILE), or a secret in "
        f"${env_prefix}KEY_URI, ${env_prefix}ACCOUNT_SEED or ${env_prefix}ACCOUNT_MNEMONIC"
    )


def _from_file(path: Path, password: str | None, env_prefix: str) -> Keypair:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise KeyLoadError(f"key file {path} is not a regular file")
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyLoadError(
                f"key file {path} is accessible to group or others "
                f"(mode {stat.S_IMODE(info.st_mode):04o}): chmod 600 {path}"
            )
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeyLoadError(f"cannot read key file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise KeyLoadError(f"key file {path} is not UTF-8 text") from None
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            raise KeyLoadError(f"key file {path} is not valid JSON") from None
        if not isinstance(data, dict):
            raise KeyLoadError(f"key file {path} is not a JSON object")
        return _from_json(data, path, password, env_prefix)
    first = stripped.splitlines()[0].strip() if stripped else ""
    return _from_secret(first, str(path))


def _from_json(data: dict[str, Any], path: Path, password: str | None, prefix: str) -> Keypair:
    if "encoded" in data:  # polkadot.js keystore
        if password is None:
            raise KeyLoadError(
                f"key file {path} is an encrypted keystore: set ${prefix}KEY_PASSWORD"
            )
        try:
            return Keypair.create_from_encrypted_json(data, password)
        except Exception:  # the library's errors may echo key material: never chain them
            raise KeyLoadError(f"cannot decrypt keystore {path} (wrong password?)") from None
    for field in ("seed", "mnemonic", "uri"):
        if data.get(field):
            return _from_secret(str(data[field]).strip(), f"{path} ({field})")
    raise KeyLoadError(f"key file {path} needs 'seed', 'mnemonic' or 'uri' (or is a keystore)")


def _from_secret(secret: str, origin: str) -> Keypair:
    if not secret:
        raise KeyLoadError(f"empty secret in {origin}")
    try:
        if secret.startswith("0x") and len(secret) == 66:
            return Keypair.create_from_seed(secret)
        return Keypair.create_from_uri(secret)
    except Exception:  # do not chain: the original message may contain the secret
        raise KeyLoadError(f"the secret in {origin} is not a valid URI, mnemonic or seed") from None
