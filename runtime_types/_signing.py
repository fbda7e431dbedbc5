"""Signed v4 extrinsics built from call bytes, without re-decoding the call.

The signing payload is `call ++ extra ++ additional_signed` (hashed with blake2b-256 when longer
than 256 bytes); the extrinsic is `compact(len) ++ 0x84 ++ MultiAddress::Id ++ MultiSignature ++
extra ++ call`. Transactions are mortal, as production wallets sign them: valid for `period`
blocks from a birth block (the client takes the finalized head), the birth block's hash signed
in `CheckMortality`; `Mortality(None)` signs immortal ones. A tip goes into
`ChargeTransactionPayment` (or `ChargeAssetTxPayment`); no metadata hash.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from scalecodec.utils.ss58 import ss58_decode
from substrateinterface import Keypair

from ._errors import ChainClientError
from ._metadata import CompositeDef, Metadata, TupleDef
from ._scale import encode_compact

__all__ = ["Mortality", "SigningContext", "encode_era", "signed_extrinsic", "signing_extensions"]

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


@dataclass(frozen=True)
class Mortality:
    """How long a transaction stays valid: `period` blocks from block `birth_number`.

    `period` None means immortal. Other values are rounded up to a power of two between 4 and
    65536, as Substrate's `Era::mortal` does.
    """

    period: int | None
    birth_number: int = 0
    birth_hash: bytes = b""

    @property
    def immortal(self) -> bool:
        return self.period is None

    def effective_period(self) -> int:
        assert self.period is not None
        period = 1 << max(self.period - 1, 1).bit_length()
        return min(max(period, 4), 1 << 16)

    def ends_at(self) -> int | None:
        """The first block number at which the transaction is no longer valid."""
        if self.period is None:
            return None
        return self.birth_number + self.effective_period()


def encode_era(mortality: Mortality) -> bytes:
    """`sp_runtime::generic::Era`: `0x00` immortal, else two bytes of period and phase."""
    if mortality.period is None:
        return b"\x00"
    period = mortality.effective_period()
    phase = mortality.birth_number % period
    quantize = max(period >> 12, 1)
    quantized = phase // quantize * quantize
    low = min(15, max(1, (period & -period).bit_length() - 2))
    return (low | ((quantized // quantize) << 4)).to_bytes(2, "little")


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


def _extra_and_additional(
    ctx: SigningContext, nonce: int, mortality: Mortality, tip: int
) -> tuple[bytes, bytes]:
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
            extra += encode_era(mortality)
            # The birth block's hash (the genesis block's for an immortal transaction)
            additional += ctx.genesis_hash if mortality.immortal else mortality.birth_hash
        elif name == "CheckNonce":
            extra += encode_compact(nonce)
        elif name == "ChargeTransactionPayment":
            extra += encode_compact(tip)
        elif name == "ChargeAssetTxPayment":
            extra += encode_compact(tip) + b"\x00"  # asset_id: None, the native token
        elif name == "CheckMetadataHash":
            extra += b"\x00"  # Mode::Disabled
            additional += b"\x00"  # no metadata hash
    return bytes(extra), bytes(additional)


def signed_extrinsic(
    call_bytes: bytes,
    signer: Keypair,
    nonce: int,
    ctx: SigningContext,
    mortality: Mortality | None = None,
    tip: int = 0,
) -> bytes:
    """The encoded (length-prefixed) signed extrinsic for already-encoded call bytes.

    Without `mortality` the transaction is immortal; `tip` must not be negative.
    """
    if tip < 0:
        raise ValueError(f"a tip cannot be negative ({tip})")
    mortality = mortality or Mortality(None)
    if not mortality.immortal and len(mortality.birth_hash) != 32:
        raise ValueError("a mortal transaction needs its birth block's 32-byte hash")
    extra, additional = _extra_and_additional(ctx, nonce, mortality, tip)
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
