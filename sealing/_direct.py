"""The direct path's sealed wire format (pure; `docs/privacy.md`).

The gateway POSTs `{"ticket", "links", "sealed": hex(seal_for(executor key, pack(request JSON,
stream key)))}`: the ticket stays readable (the executor checks it before anything else, and it
holds only hashes and amounts), the request body does not. The executor answers with the usual
server-sent events, first `event: sealed` with the secretstream header, then every event's data
as `{"s": hex(frame)}`, one frame per event, the `final` event's frame tagged final. Both are
bound to the ticket through its `prompt_hash`, so neither opens under another ticket.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ._errors import EnvelopeTruncated, OpenFailed
from ._keys import EncryptionKey
from ._seal import Context, Role, StreamOpener, StreamSealer, open_for, pack, seal_for, unpack

__all__ = [
    "DirectStreamOpener",
    "DirectStreamSealer",
    "open_direct_request",
    "seal_direct_request",
    "ticket_context",
]


def ticket_context(ticket: dict[str, Any], sender: Role, recipient: Role) -> Context:
    """The context of one ticket's request or stream, from the ticket's JSON."""
    try:
        prompt_hash = bytes.fromhex(str(ticket["prompt_hash"]))
        model_id = bytes.fromhex(str(ticket["model_id"]))
        requester = bytes.fromhex(str(ticket["requester"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise OpenFailed("the ticket names no prompt hash, model or requester") from exc
    rid = int.from_bytes(prompt_hash[:16], "little")
    return Context("ticket", rid, model_id, sender, recipient, requester)


def seal_direct_request(
    executor_key: bytes, request: dict[str, Any], ticket: dict[str, Any], links: list[Any]
) -> tuple[dict[str, Any], bytes]:
    """The wire body and the stream key the executor will seal its answer under."""
    stream_key = os.urandom(32)
    context = ticket_context(ticket, Role.GATEWAY, Role.EXECUTOR)
    body = json.dumps(request, separators=(",", ":")).encode()
    envelope = seal_for(executor_key, pack(body, stream_key), context)
    return {"ticket": ticket, "links": links, "sealed": envelope.hex()}, stream_key


def open_direct_request(key: EncryptionKey, body: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """`(request JSON, stream key)` from a sealed wire body."""
    try:
        envelope = bytes.fromhex(str(body["sealed"]))
    except (KeyError, ValueError) as exc:
        raise EnvelopeTruncated("the sealed request is not hex") from exc
    context = ticket_context(body.get("ticket") or {}, Role.GATEWAY, Role.EXECUTOR)
    raw, stream_key = unpack(open_for(key, envelope, context), 2)
    if len(stream_key) != 32:
        raise OpenFailed("the stream key is not 32 bytes")
    try:
        request = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise OpenFailed("the sealed request is not JSON") from exc
    if not isinstance(request, dict):
        raise OpenFailed("the sealed request is not a JSON object")
    return request, stream_key


class DirectStreamSealer:
    """The executor's side: `header_event()` first, then `event(data, final)` per event."""

    def __init__(self, stream_key: bytes, ticket: dict[str, Any]) -> None:
        self._sealer = StreamSealer(stream_key, ticket_context(ticket, Role.EXECUTOR, Role.GATEWAY))

    def header_event(self) -> dict[str, Any]:
        return {"h": self._sealer.header.hex()}

    def event(self, data: Any, *, final: bool = False) -> dict[str, Any]:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return {"s": self._sealer.seal(raw, final=final).hex()}


class DirectStreamOpener:
    """The gateway's side: `start(header event)`, then `open(event data)` per event."""

    def __init__(self, stream_key: bytes, ticket: dict[str, Any]) -> None:
        self._key = stream_key
        self._context = ticket_context(ticket, Role.EXECUTOR, Role.GATEWAY)
        self._opener: StreamOpener | None = None

    @property
    def started(self) -> bool:
        return self._opener is not None

    def start(self, data: dict[str, Any]) -> None:
        try:
            header = bytes.fromhex(str(data["h"]))
        except (KeyError, ValueError) as exc:
            raise EnvelopeTruncated("the stream header is not hex") from exc
        self._opener = StreamOpener(self._key, header, self._context)

    def open(self, data: dict[str, Any]) -> Any:
        if self._opener is None:
            raise OpenFailed("a sealed event before the stream header")
        try:
            frame = bytes.fromhex(str(data["s"]))
        except (KeyError, ValueError) as exc:
            raise OpenFailed("an unsealed event in a sealed stream") from exc
        return json.loads(self._opener.open(frame))
