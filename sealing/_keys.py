"""X25519 key pairs and the provider's key file (kept beside the account keystore)."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from nacl.public import PrivateKey, PublicKey

from ._errors import SealingError

__all__ = ["EncryptionKey", "load_or_create_key"]


@dataclass(frozen=True)
class EncryptionKey:
    """An X25519 key pair; `repr` never shows the private half."""

    private: PrivateKey = field(repr=False)

    @classmethod
    def generate(cls) -> EncryptionKey:
        return cls(PrivateKey.generate())

    @classmethod
    def from_bytes(cls, secret: bytes) -> EncryptionKey:
        if len(secret) != 32:
            raise SealingError("an X25519 private key is 32 bytes")
        return cls(PrivateKey(secret))

    @property
    def public(self) -> bytes:
        return bytes(self.private.public_key)

    @property
    def public_key(self) -> PublicKey:
        return self.private.public_key

    def secret_bytes(self) -> bytes:
        return bytes(self.private)


def load_or_create_key(path: Path, env_value: str | None = None) -> EncryptionKey:
    """The provider's X25519 key: `env_value` (hex) if given, else the JSON file at `path`
    (`{"x25519_secret": "<hex>"}`, owner-only permissions), created on first use."""
    if env_value:
        try:
            return EncryptionKey.from_bytes(bytes.fromhex(env_value.removeprefix("0x")))
        except ValueError as exc:
            raise SealingError("the encryption key in the environment is not 32 hex bytes") from exc
    if path.exists():
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SealingError(f"{path} is readable by others (chmod 600 it)")
        try:
            secret = bytes.fromhex(json.loads(path.read_text())["x25519_secret"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SealingError(f"{path} is not an encryption key file") from exc
        return EncryptionKey.from_bytes(secret)
    key = EncryptionKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"x25519_secret": key.secret_bytes().hex(), "public": key.public.hex()}, fh)
    return key
