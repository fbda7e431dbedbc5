"""The recorder: drives devnode's pallets through `StateMachine` and writes each step down.

A step is a block (System initialize with a number and parent hash, then every pallet's
`on_initialize`) or a call (a SCALE `RuntimeCall` dispatched with an origin, without fees). For
each the vector holds the expected result, the protocol pallets' events (SCALE `RuntimeEvent`
bytes) and the protocol pallets' storage change (every key under their prefixes that was set or
removed); the file also holds the full storage at genesis and at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._chain import dev_account_ids
from .._errors import DispatchFailure, ScaleDecodeError
from .._hashing import twox_128
from .._pallet import Origin
from .._primitives import DISPATCH_ERROR
from ..pallets._harness import StateMachine

__all__ = [
    "PROTOCOL_PALLETS",
    "GenerationError",
    "Recorder",
    "Vector",
]

#: The pallets whose storage and events the vectors pin, by name.
PROTOCOL_PALLETS = ("Tokens", "ModelRegistry", "Providers", "Inference", "Channels")


class GenerationError(AssertionError):
    """A scripted step did not do what its scenario says it does (devnode changed)."""


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _origin_json(origin: Origin) -> Any:
    if origin.kind == "Signed":
        assert origin.who is not None
        return {"signed": _hex(origin.who)}
    return origin.kind.lower()


@dataclass
class Vector:
    """One vector file: a scenario group over one genesis."""

    name: str
    #: The runtime pallets the replay needs (a file is not replayed while one is missing).
    pallets: tuple[str, ...]
    genesis: dict[bytes, bytes]
    steps: list[dict[str, Any]] = field(default_factory=list)
    final: dict[bytes, bytes] = field(default_factory=dict)
    #: Declared errors no call can reach (`Pallet.Error`), with the reason.
    unreachable: dict[str, str] = field(default_factory=dict)
    #: The calls and module errors its steps exercised (not written to the file).
    calls: set[tuple[str, str]] = field(default_factory=set)
    errors: set[tuple[str, str]] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pallets": list(self.pallets),
            "unreachable_errors": dict(sorted(self.unreachable.items())),
            "genesis": {_hex(k): _hex(v) for k, v in sorted(self.genesis.items())},
            "steps": self.steps,
            "final": {_hex(k): _hex(v) for k, v in sorted(self.final.items())},
        }


class Recorder:
    """A `StateMachine` over the development genesis whose every step is recorded."""

    def __init__(self, name: str, pallets: tuple[str, ...]) -> None:
        self.accounts = dev_account_ids()
        self.sm = StateMachine(self.accounts)
        self.runtime = self.sm.runtime
        self._prefixes = tuple(twox_128(p.encode()) for p in PROTOCOL_PALLETS)
        genesis = self._storage()
        self.vector = Vector(name, pallets, genesis)
        self._previous = genesis
        self.calls: set[tuple[str, str]] = set()
        self.errors: set[tuple[str, str]] = set()

    # -- the state -----------------------------------------------------------------------

    def _storage(self) -> dict[bytes, bytes]:
        return {k: v for k, v in self.sm.state.items() if k[:16] in self._prefixes}

    def get(self, pallet: str, item: str, *keys: Any) -> Any:
        return self.sm.get(pallet, item, *keys)

    @property
    def number(self) -> int:
        return self.sm.number

    # -- steps ---------------------------------------------------------------------------

    def _record(self, step: dict[str, Any], events: list[dict[str, Any]]) -> None:
        step["events"] = [
            _hex(bytes(self.runtime.event_enum.encode(e["event"])))
            for e in events
            if e["event"][0] in PROTOCOL_PALLETS
        ]
        now = self._storage()
        changed = {k: v for k, v in now.items() if self._previous.get(k) != v}
        removed = sorted(k for k in self._previous if k not in now)
        step["storage"] = {
            "set": {_hex(k): _hex(v) for k, v in sorted(changed.items())},
            "removed": [_hex(k) for k in removed],
        }
        self._previous = now
        self.vector.steps.append(step)

    def _name(self, label: str) -> str:
        return f"{self.vector.name}/{len(self.vector.steps):04d} {label}"

    def block(self, label: str = "block") -> list[dict[str, Any]]:
        """Start the next block (its parent hash as the harness derives it)."""
        events = self.sm.next_block()
        step = {
            "name": self._name(label),
            "kind": "block",
            "number": self.sm.number,
            "parent_hash": _hex(self.sm.parent_hash),
        }
        self._record(step, events)
        return events

    def blocks_until(self, number: int) -> None:
        while self.sm.number < number:
            self.block()

    def describe(self, failure: DispatchFailure) -> str:
        kind, value = failure.error
        if kind == "Module":
            index, error = value["index"], value["error"][0]
            pallet = next(p for p in self.runtime.pallets if p.index == index)
            assert pallet.errors is not None
            name = next(e.name for e in pallet.errors if e.index == error)
            return f"{pallet.name}.{name}"
        if value is None:
            return str(kind)
        inner = value[0] if isinstance(value, tuple) else value
        return f"{kind}.{inner}"

    def call(
        self,
        label: str,
        origin: Origin | bytes,
        pallet: str,
        call: str,
        /,
        expect: str | None = "ok",
        **args: Any,
    ) -> list[dict[str, Any]]:
        """Dispatch `pallet.call(**args)` from `origin` (an account means a signed origin).

        `expect` is "ok", an error as `Pallet.Error` / `BadOrigin`, or None for anything (the
        random sequences); a scripted step that does otherwise raises `GenerationError`.
        """
        if isinstance(origin, bytes):
            origin = Origin.signed(origin)
        raw = bytes(self.runtime.encode_call(pallet, call, args))
        decoded_pallet, (decoded_call, decoded_args) = self.runtime.call_enum.decode_all(raw)
        events: list[dict[str, Any]] = []
        try:
            events = self.sm.call(origin, decoded_pallet, decoded_call, **(decoded_args or {}))
        except DispatchFailure as failure:
            outcome = self.describe(failure)
            result: dict[str, Any] = {
                "err": {"name": outcome, "scale": _hex(bytes(DISPATCH_ERROR.encode(failure.error)))}
            }
            if failure.error[0] == "Module":
                module, error = outcome.split(".", 1)
                self.errors.add((module, error))
        else:
            outcome = "ok"
            result = {"ok": None}
        if expect is not None and outcome != expect:
            raise GenerationError(f"{self._name(label)}: expected {expect}, got {outcome}")
        self.calls.add((pallet, call))
        step = {
            "name": self._name(f"{pallet}.{call} {label}"),
            "kind": "call",
            "number": self.sm.number,
            "origin": _origin_json(origin),
            "call": _hex(raw),
            "result": result,
        }
        self._record(step, events)
        return events

    def undecodable(self, label: str, origin: Origin | bytes, raw: bytes) -> None:
        """A call devnode cannot decode (an invalid transaction): nothing changes."""
        if isinstance(origin, bytes):
            origin = Origin.signed(origin)
        try:
            self.runtime.call_enum.decode_all(raw)
        except ScaleDecodeError as exc:
            reason = str(exc)
        else:
            raise GenerationError(f"{self._name(label)}: the call decodes")
        step = {
            "name": self._name(label),
            "kind": "call",
            "number": self.sm.number,
            "origin": _origin_json(origin),
            "call": _hex(raw),
            "result": {"undecodable": reason},
        }
        self._record(step, [])

    def finish(self, unreachable: dict[str, str] | None = None) -> Vector:
        self.vector.final = self._storage()
        self.vector.unreachable = dict(unreachable or {})
        self.vector.calls = set(self.calls)
        self.vector.errors = set(self.errors)
        return self.vector
