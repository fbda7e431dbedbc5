"""Chain helpers over the runtime_types client: extrinsic decoding and typed lookups."""

from __future__ import annotations

from typing import Any

from protocol import blake2_256
from runtime_types import Bindings, Call, ExtrinsicDecodeError
from runtime_types.generated.devnode import inference, model_registry, providers, types

from ._errors import ChainError

__all__ = ["blake2_256", "decode_extrinsic_call", "request_call_in_block"]


def decode_extrinsic_call(bindings: Bindings, extrinsic: bytes) -> Call[Any]:
    """The call inside an encoded (length-prefixed, v4) extrinsic, signed or not."""
    try:
        return bindings.decode_extrinsic(extrinsic).call
    except ExtrinsicDecodeError as exc:
        raise ChainError(str(exc)) from exc


def request_call_in_block(
    bindings: Bindings, extrinsics: tuple[bytes, ...], index: int | None
) -> types.PalletInferenceCallRequest:
    """The `Inference.request` call at `index` of a block's extrinsics."""
    if index is None or not 0 <= index < len(extrinsics):
        raise ChainError(f"no extrinsic {index} in the block")
    call = decode_extrinsic_call(bindings, extrinsics[index])
    if not isinstance(call.args, types.PalletInferenceCallRequest):
        raise ChainError(f"extrinsic {index} is {call.pallet}.{call.name}, not Inference.request")
    return call.args


def provided_output_in_block(
    bindings: Bindings, extrinsics: tuple[bytes, ...], index: int | None, request_id: int
) -> bytes:
    """The output of the `Inference.provide_output` call at `index`."""
    if index is None or not 0 <= index < len(extrinsics):
        raise ChainError(f"no extrinsic {index} in the block")
    call = decode_extrinsic_call(bindings, extrinsics[index])
    args = call.args
    if (
        not isinstance(args, types.PalletInferenceCallProvideOutput)
        or args.request_id != request_id
    ):
        raise ChainError(f"extrinsic {index} is not provide_output({request_id})")
    return bytes(args.output)


# Re-exported generated modules, so the daemon imports the bindings from one place.
STORAGE_REQUESTS = inference.storage.requests
STORAGE_MODEL_VERSIONS = model_registry.storage.model_versions
STORAGE_MODELS = model_registry.storage.models
STORAGE_PROVIDERS = providers.storage.providers
