"""JSON-RPC parameter checks and hex encoding shared by both RPC interfaces (legacy and v2)."""

from __future__ import annotations

from typing import Any

from ._errors import RpcError

__all__ = ["hex_param", "invalid_params", "param_at", "to_hex"]


def to_hex(data: bytes) -> str:
    return "0x" + data.hex()


def invalid_params(reason: str) -> RpcError:
    return RpcError(-32602, f"Invalid params: {reason}")


def param_at(params: list[Any], index: int) -> Any:
    """The positional parameter at `index`; None when the client sent fewer."""
    return params[index] if index < len(params) else None


def hex_param(value: Any, name: str) -> bytes:
    """A `0x`-prefixed hex parameter's bytes; `-32602` for anything else."""
    if not isinstance(value, str) or not value.startswith("0x"):
        raise invalid_params(f"{name} must be a 0x-prefixed hex string")
    try:
        return bytes.fromhex(value[2:])
    except ValueError as exc:
        raise invalid_params(f"{name} is not valid hex") from exc
