"""Ticket signatures that are the same bytes on every run.

sr25519 signing is randomised, so a regenerated vector would differ from the committed one on
every run. The signer keeps every signature it made in `chain/conformance/signatures.json`
(public key and message -> signature) and reuses one from there when it still verifies: the
vectors stay byte-identical, and a new message is signed afresh with the dev key.
"""

from __future__ import annotations

import json
from pathlib import Path

from substrateinterface import Keypair

from .._chain import DEV_ACCOUNTS
from .._crypto import verify_signature

__all__ = ["SIGNATURE_CACHE", "Signer"]

SIGNATURE_CACHE = Path(__file__).resolve().parents[2] / "chain" / "conformance" / "signatures.json"


class Signer:
    """Signs with the dev keys (//Alice .. //Ferdie), reusing cached signatures."""

    def __init__(self, cache: Path = SIGNATURE_CACHE) -> None:
        self._cached: dict[str, str] = json.loads(cache.read_text()) if cache.exists() else {}
        self.used: dict[str, str] = {}
        self._keys = {}
        for name in DEV_ACCOUNTS:
            pair = Keypair.create_from_uri(f"//{name}")
            self._keys[bytes(pair.public_key)] = pair

    def sign(self, who: bytes, message: bytes) -> bytes:
        entry = f"0x{who.hex()}:0x{message.hex()}"
        cached = self._cached.get(entry)
        if cached is not None:
            signature = bytes.fromhex(cached[2:])
            if verify_signature("Sr25519", signature, message, who):
                self.used[entry] = cached
                return signature
        signature = bytes(self._keys[who].sign(message))
        self.used[entry] = "0x" + signature.hex()
        return signature

    def dump(self) -> bytes:
        return (json.dumps(dict(sorted(self.used.items())), indent=1) + "\n").encode()
