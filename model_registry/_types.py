"""Frozen records and the parsing of user-facing values (tasks, currencies, shares, ids)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import protocol
from protocol import ModelId

from ._errors import RegistryConfigError

__all__ = [
    "CURRENCIES",
    "TASKS",
    "ModelId",
    "ModelRecord",
    "ModelVersionRecord",
    "parse_author_share",
    "parse_currency",
    "parse_model_id",
]

#: CLI spelling -> `ModelTask` variant name
TASKS = {
    "text-generation": "TextGeneration",
    "embedding": "Embedding",
    "image-generation": "ImageGeneration",
    "speech-to-text": "SpeechToText",
    "other": "Other",
}
#: Genesis currencies of the Tokens pallet (docs/pallets.md); other ids are given as numbers
CURRENCIES = {"INFER": 1, "USDD": 2}


def parse_model_id(value: str) -> ModelId:
    """`protocol.parse_model_id` (`0x` + 64 hex digits, any case), raising
    `RegistryConfigError`."""
    try:
        return protocol.parse_model_id(value)
    except protocol.InvalidIdError as exc:
        raise RegistryConfigError(str(exc)) from exc


def parse_currency(value: str | int) -> int:
    """A currency id, or a genesis currency's symbol (INFER, USDD)."""
    if isinstance(value, int):
        number = value
    elif value.upper() in CURRENCIES:
        return CURRENCIES[value.upper()]
    else:
        try:
            number = int(value)
        except ValueError:
            raise RegistryConfigError(
                f"unknown currency {value!r} (a number or one of {', '.join(CURRENCIES)})"
            ) from None
    if not 0 <= number < 1 << 32:
        raise RegistryConfigError(f"currency id out of range: {number}")
    return number


def parse_author_share(value: str) -> int:
    """`25%`, `0.25` or `250000ppm` -> parts per million (0..1_000_000)."""
    text = value.strip().lower()
    try:
        if text.endswith("ppm"):
            ppm = Decimal(text[:-3])
        elif text.endswith("%"):
            ppm = Decimal(text[:-1]) * 10_000
        else:
            ppm = Decimal(text) * 1_000_000
    except InvalidOperation:
        raise RegistryConfigError(f"author share {value!r}: use 25%, 0.25 or 250000ppm") from None
    if ppm != ppm.to_integral_value() or not 0 <= ppm <= 1_000_000:
        raise RegistryConfigError(f"author share {value!r} must be 0..100% in whole ppm")
    return int(ppm)


@dataclass(frozen=True, slots=True)
class ModelVersionRecord:
    version: int
    cid: str
    size_bytes: int
    registered_at: int


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """A model's on-chain record (`ModelRegistry.Models`), in plain values."""

    model_id: ModelId
    #: SS58
    owner: str
    cid: str
    name: str
    #: `ModelTask` variant name (TextGeneration, ...)
    task: str
    #: `WeightFormat` variant name (Safetensors, ...)
    format: str
    size_bytes: int
    price_per_1k_tokens: int
    currency_id: int
    #: parts per million
    author_share: int
    version: int
    #: Active or Deprecated
    status: str
    registered_at: int
    #: Every version (oldest first); filled by `show`, empty from `list`
    versions: tuple[ModelVersionRecord, ...] = ()
    #: Active providers serving the model (SS58); filled by `show`
    providers: tuple[str, ...] = ()
