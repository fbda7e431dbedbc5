"""Signed v4 extrinsics built from call bytes, without re-decoding the call.

The signing payload is `call ++ extra ++ additional_signed` (hashed with blake2b-256 when longer
than 256 bytes); the extrinsic is `compact(len) ++ 0x84 ++ MultiAddress::Id ++ MultiSignature ++
extra ++ call`. Transactions are immortal, with no tip and no metadata hash.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from scalecodec.utils.ss58 import ss58_decode
from substrateinterface import Keypair

from ._errors import ChainClientError
from ._metadata import CompositeDef, Metadata, TupleDef
from ._scale import encode_compact

__all__ = ["SigningContext", "signed_extrinsic", "signing_extensions"]

_SIGNED_V4 = 0x84
#: Substrate's `MultiSignature` variant index per substrate-interface `KeypairType`
_SIGNATURE_VARIANT = {0: 0, 1: 1, 2: 2}  # Ed25519, Sr25519, Ecdsa
#: Extensions whose extra and additional data this module knows how to fill
_KNOWN = frozenset(
    {
        "CheckNonZeroSender",
        "CheckSpecVersion",
        "CheckTxVersion",
        "CheckGenesis",
        "CheckMortality",
        "CheckEra",
        "CheckNonce",
        "CheckWeight",
        "ChargeTransactionPayment",
        "ChargeAssetTxPayment",
        "CheckMetadataHash",
    }
)


@dataclass(frozen=True)
class SigningContext:
    """What a signature commits to besides the call: the chain and its runtime version."""

    extensions: tuple[str, ...]
    genesis_hash: bytes
    spec_version: int
    transaction_version: int


def _is_empty(metadata: Metadata, type_id: int) -> bool:
    definition = metadata.types[type_id].definition
    if isinstance(definition, CompositeDef):
        return all(_is_empty(metadata, f.type) for f in definition.fields)
    if isinstance(definition, TupleDef):
        return all(_is_empty(metadata, t) for t in definition.types)
    return False


def signing_extensions(metadata: Metadata) -> tuple[str, ...]:
    """The node's signed extension identifiers, in order; refuses ones that carry unknown data."""
    names = []
    for name, extra, additional in metadata.extrinsic.signed_extensions:
        if name not in _KNOWN and not (
            _is_empty(metadata, extra) and _is_empty(metadata, additional)
        ):
            raise ChainClientError(f"cannot sign for the node: unknown signed extension {name!r}")
        names.append(name)
    return tuple(names)


def _extra_and_additional(ctx: SigningContext, nonce: int) -> tuple[bytes, bytes]:
    extra = bytearray()
    additional = bytearray()
    for name in ctx.extensions:
        if name == "CheckSpecVersion":
            additional += ctx.spec_version.to_bytes(4, "little")
        elif name == "CheckTxVersion":
            additional += ctx.transaction_version.to_bytes(4, "little")
        elif name == "CheckGenesis":
            additional += ctx.genesis_hash
        elif name in ("CheckMortality", "CheckEra"):
            extra += b"\x00"  # Era::Immortal: the birth block is the genesis block
            additional += ctx.genesis_hash
        elif name == "CheckNonce":
            extra += encode_compact(nonce)
        elif name == "ChargeTransactionPayment":
            extra += encode_compact(0)  # tip
        elif name == "ChargeAssetTxPayment":
            extra += encode_compact(0) + b"\x00"  # tip, asset_id: None
        elif name == "CheckMetadataHash":
            extra += b"\x00"  # Mode::Disabled
            additional += b"\x00"  # no metadata hash
    return bytes(extra), bytes(additional)


def signed_extrinsic(call_bytes: bytes, signer: Keypair, nonce: int, ctx: SigningContext) -> bytes:
    """The encoded (length-prefixed) signed extrinsic for already-encoded call bytes."""
    extra, additional = _extra_and_additional(ctx, nonce)
    payload = call_bytes + extra + additional
    if len(payload) > 256:
        payload = hashlib.blake2b(payload, digest_size=32).digest()
    variant = _SIGNATURE_VARIANT.get(int(signer.crypto_type))
    if variant is None:
        raise ChainClientError(f"unsupported key type {signer.crypto_type!r}")
    signature = bytes(signer.sign(payload))
    account = bytes.fromhex(ss58_decode(signer.ss58_address))
    body = bytes([_SIGNED_V4, 0]) + account + bytes([variant]) + signature + extra + call_bytes
    return encode_compact(len(body)) + body
