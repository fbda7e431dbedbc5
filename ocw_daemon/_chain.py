"""Chain helpers over the runtime_types client: extrinsic decoding and typed lookups."""

from __future__ import annotations

from typing import Any

from protocol import blake2_256
from runtime_types import Bindings, Call, CodecError
from runtime_types._scale import Reader
from runtime_types.generated.devnode import inference, model_registry, providers, types

from ._errors import ChainError

__all__ = ["blake2_256", "decode_extrinsic_call", "request_call_in_block"]


def decode_extrinsic_call(bindings: Bindings, extrinsic: bytes) -> Call[Any]:
    """The call inside an encoded (length-prefixed, v4) extrinsic, signed or not.

    The address, signature and signed-extension types come from the metadata, so this works
    for any runtime with the standard `UncheckedExtrinsic` layout.
    """
    metadata = bindings.metadata
    # V14 names them as the extrinsic type's parameters, V15 and V16 as fields of their own.
    params = {
        "Address": metadata.extrinsic.address_type,
        "Signature": metadata.extrinsic.signature_type,
    }
    try:
        reader = Reader(extrinsic)
        reader.compact()  # the length prefix
        version = reader.u8()
        if version & 0x7F != 4:
            raise ChainError(f"unsupported extrinsic version {version & 0x7F}")
        if version & 0x80:
            codec = bindings.codec
            for name in ("Address", "Signature"):
                type_id = params.get(name)
                if type_id is None:
                    raise ChainError(f"the metadata names no {name} type for signed extrinsics")
                codec.decode_from(type_id, reader)
            for _, extra_type, _ in metadata.extrinsic.signed_extensions:
                codec.decode_from(extra_type, reader)
        return bindings.decode_call(reader.read(reader.remaining()))
    except (CodecError, ValueError, IndexError, KeyError) as exc:
        raise ChainError(f"cannot decode the extrinsic: {exc}") from exc


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
