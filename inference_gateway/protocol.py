"""The direct path's wire protocol, shared by the gateway and the executor (pure, no I/O).

Tickets (docs/pallets.md, "Channels"): ticket `n` of a channel commits to ticket `n - 1`
(`prev`), so the requester's signature on the last ticket of a run authorises the whole run.
The request a ticket pays for is committed by `prompt_hash = blake2_256(canonical_json(request))`;
the executor's final record is signed over `final_message(...)`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from protocol import blake2_256

__all__ = [
    "FINAL_DOMAIN",
    "TICKET_SIGNATURE_DOMAIN",
    "ProtocolError",
    "Ticket",
    "blake2_256",
    "canonical_json",
    "channel_genesis",
    "escrow_for",
    "final_message",
    "next_ticket",
    "prompt_hash",
    "ticket_hash",
    "ticket_message",
]

TICKET_DOMAIN = b"genai-ticket"
TICKET_SIGNATURE_DOMAIN = b"genai-ticket:"
FINAL_DOMAIN = b"genai-direct-final:"


class ProtocolError(ValueError):
    """A ticket, request or final record that does not parse or does not check out."""


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the bytes a request's commitment is computed over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def prompt_hash(request: Mapping[str, Any]) -> bytes:
    return blake2_256(canonical_json(request))


def escrow_for(tokens: int, price_per_1k: int) -> int:
    """`ceil(tokens * price / 1000)`, as the chain computes it."""
    return -(-tokens * price_per_1k // 1000)


def channel_genesis(channel_id: int) -> bytes:
    return blake2_256(b"genai-channel" + channel_id.to_bytes(8, "little"))


def ticket_hash(
    prev: bytes,
    channel_id: int,
    executor: bytes,
    model_id: bytes,
    prompt_hash: bytes,
    max_tokens: int,
    max_price: int,
    max_amount: int,
    cumulative: int,
    nonce: int,
    expiry: int,
) -> bytes:
    return blake2_256(
        TICKET_DOMAIN
        + prev
        + channel_id.to_bytes(8, "little")
        + executor
        + model_id
        + prompt_hash
        + max_tokens.to_bytes(4, "little")
        + max_price.to_bytes(16, "little")
        + max_amount.to_bytes(16, "little")
        + cumulative.to_bytes(16, "little")
        + nonce.to_bytes(8, "little")
        + expiry.to_bytes(4, "little")
    )


def ticket_message(digest: bytes) -> bytes:
    """What the requester signs (sr25519) for a ticket."""
    return TICKET_SIGNATURE_DOMAIN + digest


def final_message(
    ticket_digest: bytes, output_hash: bytes, prompt_tokens: int, completion_tokens: int
) -> bytes:
    """What the executor signs for the record it streamed."""
    return (
        FINAL_DOMAIN
        + ticket_digest
        + output_hash
        + prompt_tokens.to_bytes(4, "little")
        + completion_tokens.to_bytes(4, "little")
    )


def _hex(value: Any, length: int, name: str) -> bytes:
    if not isinstance(value, str):
        raise ProtocolError(f"{name}: expected a hex string")
    try:
        raw = bytes.fromhex(value.removeprefix("0x"))
    except ValueError as exc:
        raise ProtocolError(f"{name}: not hex") from exc
    if len(raw) != length:
        raise ProtocolError(f"{name}: expected {length} bytes, got {len(raw)}")
    return raw


def _int(value: Any, name: str, bits: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**bits:
        raise ProtocolError(f"{name}: expected an unsigned {bits}-bit integer")
    return value


@dataclass(frozen=True, slots=True)
class Ticket:
    """One ticket of a channel; `signature` is None for a link (authorised by a later one)."""

    requester: bytes
    executor: bytes
    channel_id: int
    nonce: int
    prev: bytes
    model_id: bytes
    prompt_hash: bytes
    max_tokens: int
    max_price: int
    max_amount: int
    cumulative: int
    expiry: int
    signature: bytes | None = None

    @property
    def digest(self) -> bytes:
        return ticket_hash(
            self.prev,
            self.channel_id,
            self.executor,
            self.model_id,
            self.prompt_hash,
            self.max_tokens,
            self.max_price,
            self.max_amount,
            self.cumulative,
            self.nonce,
            self.expiry,
        )

    def signed(self, signature: bytes) -> Ticket:
        return replace(self, signature=signature)

    def unsigned(self) -> Ticket:
        return replace(self, signature=None)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "requester": self.requester.hex(),
            "executor": self.executor.hex(),
            "channel_id": self.channel_id,
            "nonce": self.nonce,
            "prev": self.prev.hex(),
            "model_id": self.model_id.hex(),
            "prompt_hash": self.prompt_hash.hex(),
            "max_tokens": self.max_tokens,
            "max_price": str(self.max_price),
            "max_amount": str(self.max_amount),
            "cumulative": str(self.cumulative),
            "expiry": self.expiry,
        }
        if self.signature is not None:
            body["signature"] = self.signature.hex()
        return body

    @classmethod
    def from_json(cls, body: Any) -> Ticket:
        if not isinstance(body, dict):
            raise ProtocolError("a ticket is a JSON object")
        try:
            amounts = {k: int(str(body[k])) for k in ("max_price", "max_amount", "cumulative")}
            signature = body.get("signature")
            return cls(
                requester=_hex(body["requester"], 32, "requester"),
                executor=_hex(body["executor"], 32, "executor"),
                channel_id=_int(body["channel_id"], "channel_id", 64),
                nonce=_int(body["nonce"], "nonce", 64),
                prev=_hex(body["prev"], 32, "prev"),
                model_id=_hex(body["model_id"], 32, "model_id"),
                prompt_hash=_hex(body["prompt_hash"], 32, "prompt_hash"),
                max_tokens=_int(body["max_tokens"], "max_tokens", 32),
                max_price=_int(amounts["max_price"], "max_price", 128),
                max_amount=_int(amounts["max_amount"], "max_amount", 128),
                cumulative=_int(amounts["cumulative"], "cumulative", 128),
                expiry=_int(body["expiry"], "expiry", 32),
                signature=None if signature is None else _hex(signature, 64, "signature"),
            )
        except KeyError as exc:
            raise ProtocolError(f"a ticket needs {exc.args[0]!r}") from None
        except ValueError as exc:
            if isinstance(exc, ProtocolError):
                raise
            raise ProtocolError(f"a ticket amount is not an integer: {exc}") from exc


def next_ticket(
    *,
    requester: bytes,
    executor: bytes,
    channel_id: int,
    nonce: int,
    head: bytes,
    cumulative: int,
    model_id: bytes,
    prompt_hash: bytes,
    max_tokens: int,
    max_price: int,
    max_amount: int,
    expiry: int,
) -> Ticket:
    """The unsigned ticket after (`nonce`, `head`, `cumulative`)."""
    return Ticket(
        requester,
        executor,
        channel_id,
        nonce + 1,
        head,
        model_id,
        prompt_hash,
        max_tokens,
        max_price,
        max_amount,
        cumulative + max_amount,
        expiry,
    )
