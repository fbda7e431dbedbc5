"""The canonical encodings of output records and their hash: implemented in `protocol` (the
torch-free layer the client and the daemon share), re-exported here with the engine's errors.

Encoding a record that has no canonical encoding raises `InvalidRequestError`; decoding bytes
that are not canonical raises `OutputDecodeError` (each chained to `protocol`'s error).
See docs/output-format.md.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import protocol
from protocol import LOGPROB_SCALE, MAX_EMBEDDING_DIMENSION, dequantize_logprob, output_hash

from ._errors import InvalidRequestError, OutputDecodeError
from ._types import EmbeddingOutput, GenerationOutput, OutputRecord

__all__ = [
    "LOGPROB_SCALE",
    "MAX_EMBEDDING_DIMENSION",
    "decode_embedding",
    "decode_output",
    "decode_record",
    "dequantize_logprob",
    "encode_embedding",
    "encode_output",
    "encode_record",
    "output_hash",
    "quantize_logprob",
]

P = ParamSpec("P")
R = TypeVar("R")


def _engine_errors(function: Callable[P, R]) -> Callable[P, R]:
    """`function` raising the engine's errors instead of `protocol`'s."""

    @wraps(function)
    def translated(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except protocol.RecordEncodeError as exc:
            raise InvalidRequestError(str(exc)) from exc
        except protocol.RecordDecodeError as exc:
            raise OutputDecodeError(str(exc)) from exc

    return translated


quantize_logprob: Callable[[float], int] = _engine_errors(protocol.quantize_logprob)
encode_output: Callable[[GenerationOutput], bytes] = _engine_errors(protocol.encode_output)
decode_output: Callable[[bytes], GenerationOutput] = _engine_errors(protocol.decode_output)
encode_embedding: Callable[[EmbeddingOutput], bytes] = _engine_errors(protocol.encode_embedding)
decode_embedding: Callable[[bytes], EmbeddingOutput] = _engine_errors(protocol.decode_embedding)
encode_record: Callable[[OutputRecord], bytes] = _engine_errors(protocol.encode_record)
decode_record: Callable[[bytes], OutputRecord] = _engine_errors(protocol.decode_record)
