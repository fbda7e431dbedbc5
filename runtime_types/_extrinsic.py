"""Encoded extrinsics read back: who signed, with which nonce, era and tip, and the typed call.

The layout is Substrate's `UncheckedExtrinsic` v4: `compact(len) ++ version ++ [address ++
signature ++ extra] ++ call`, where the address, signature and each signed extension's extra
data have the types the metadata names, so this works for any runtime with that layout.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._errors import CodecError, ExtrinsicDecodeError
from ._scale import Reader

if TYPE_CHECKING:
    from ._bindings import Bindings, Call

__all__ = ["DecodedExtrinsic", "Era", "decode_extrinsic"]

_ERA_EXTENSIONS = ("CheckMortality", "CheckEra")
_TIP_EXTENSIONS = ("ChargeTransactionPayment", "ChargeAssetTxPayment")


@dataclass(frozen=True)
class Era:
    """`sp_runtime::generic::Era`: immortal (`period` None), or valid for `period` blocks from
    a birth block whose number is `phase` modulo `period`."""

    period: int | None
    phase: int = 0

    @property
    def immortal(self) -> bool:
        return self.period is None

    def birth_number(self, current: int) -> int:
        """The birth block of a mortal era, seen from block `current` (as Substrate's `birth`)."""
        if self.period is None:
            return 0
        return (max(current, self.phase) - self.phase) // self.period * self.period + self.phase

    @classmethod
    def decode(cls, data: bytes) -> Era:
        if data == b"\x00":
            return cls(None)
        if len(data) != 2:
            raise ExtrinsicDecodeError(f"an era is 1 or 2 bytes, not {data.hex()}")
        encoded = int.from_bytes(data, "little")
        period = 2 << (encoded % (1 << 4))
        quantize = max(period >> 12, 1)
        phase = (encoded >> 4) * quantize
        if period < 4 or phase >= period:
            raise ExtrinsicDecodeError(f"invalid era bytes {data.hex()}")
        return cls(period, phase)


@dataclass(frozen=True)
class DecodedExtrinsic:
    """An extrinsic read back from its bytes; the signed fields are None for an unsigned one."""

    #: The extrinsic format version (4)
    version: int
    #: The call, its arguments an instance of the generated call class
    call: Call[Any]
    #: The typed address (`MultiAddress`) as the metadata declares it
    address: Any = None
    #: The signer's 32-byte account id, when the address names one (`MultiAddress::Id`)
    signer: bytes | None = None
    #: The typed signature (`MultiSignature`)
    signature: Any = None
    nonce: int | None = None
    era: Era | None = None
    tip: int | None = None
    #: Each signed extension's decoded extra data, by identifier
    extensions: Mapping[str, Any] = field(default_factory=dict)

    @property
    def signed(self) -> bool:
        return self.address is not None


def decode_extrinsic(bindings: Bindings, extrinsic: bytes) -> DecodedExtrinsic:
    """Decode an encoded (length-prefixed) extrinsic; `ExtrinsicDecodeError` if malformed."""
    metadata = bindings.metadata
    codec = bindings.codec
    try:
        reader = Reader(extrinsic)
        length = reader.compact()
        if length != reader.remaining():
            raise ExtrinsicDecodeError(
                f"the length prefix says {length} bytes, {reader.remaining()} follow"
            )
        version = reader.u8()
        if version & 0x7F != 4:
            raise ExtrinsicDecodeError(f"unsupported extrinsic version {version & 0x7F}")
        if not version & 0x80:
            call = bindings.decode_call(reader.read(reader.remaining()))
            return DecodedExtrinsic(4, call)
        address_type = metadata.extrinsic.address_type
        signature_type = metadata.extrinsic.signature_type
        if address_type is None or signature_type is None:
            raise ExtrinsicDecodeError("the metadata names no address or signature type")
        address = codec.decode_from(address_type, reader)
        signature = codec.decode_from(signature_type, reader)
        extensions: dict[str, Any] = {}
        nonce = tip = None
        era = None
        for name, extra_type, _ in metadata.extrinsic.signed_extensions:
            start = reader.pos
            extensions[name] = codec.decode_from(extra_type, reader)
            raw = reader.data[start : reader.pos]
            if name in _ERA_EXTENSIONS:
                era = Era.decode(raw)
            elif name == "CheckNonce":
                nonce = Reader(raw).compact()
            elif name in _TIP_EXTENSIONS:
                tip = Reader(raw).compact()
        call = bindings.decode_call(reader.read(reader.remaining()))
    except ExtrinsicDecodeError:
        raise
    except (CodecError, ValueError, IndexError, KeyError, StopIteration) as exc:
        raise ExtrinsicDecodeError(f"cannot decode the extrinsic: {exc}") from exc
    return DecodedExtrinsic(
        4, call, address, _account_id(address), signature, nonce, era, tip, extensions
    )


def _account_id(address: Any) -> bytes | None:
    """The 32 account-id bytes inside `MultiAddress::Id` (or a bare `AccountId32`)."""
    value = address
    for _ in range(3):  # MultiAddressId -> AccountId32 -> bytes
        if isinstance(value, bytes | bytearray):
            return bytes(value) if len(value) == 32 else None
        variant = getattr(type(value), "__variant_name__", None)
        if variant is not None and variant != "Id":
            return None
        if not dataclasses.is_dataclass(value) or isinstance(value, type):
            return None
        fields = dataclasses.fields(value)
        if len(fields) != 1:
            return None
        value = getattr(value, fields[0].name)
    return None
