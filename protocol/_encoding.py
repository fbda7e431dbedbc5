"""The canonical binary encodings of output records and their on-chain hash.

Specified in docs/output-format.md. Every record has exactly one encoding and every byte string
decodes to at most one record: varints must be minimal, enumerations known, top-k lists sorted,
text valid UTF-8, floats finite float32 without negative zero, and nothing may follow the last
field. Text outputs start with `IEO\x01`, embeddings with `IEE\x01`.

Encoding a record that has none raises `RecordEncodeError`; decoding bytes that are not
canonical raises `RecordDecodeError`.
"""

from __future__ import annotations

import math
import struct

from ._errors import RecordDecodeError, RecordEncodeError
from ._hashing import blake2_256
from ._ids import RecordId
from ._records import (
    MAX_TOP_LOGPROBS,
    EmbeddingOutput,
    FinishReason,
    GenerationOutput,
    OutputRecord,
    TokenLogprobs,
)

__all__ = [
    "EMBEDDING_MAGIC",
    "LOGPROB_SCALE",
    "MAGIC",
    "MAX_EMBEDDING_DIMENSION",
    "MAX_LOGPROB_Q",
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

#: "IEO" (inference-engine output) and the format version.
MAGIC = b"IEO\x01"
#: "IEE" (inference-engine embedding) and the format version.
EMBEDDING_MAGIC = b"IEE\x01"
#: The largest vector an embedding record carries (16 KiB of floats fits MaxOutputBytes).
MAX_EMBEDDING_DIMENSION = 16384
_FLAG_TRUNCATED = 0x01
#: Log-probabilities are stored as round(-logprob * LOGPROB_SCALE), an unsigned varint.
LOGPROB_SCALE = 1024
#: The largest stored magnitude (logprob -1e6); anything lower (or -inf) is clamped to it.
MAX_LOGPROB_Q = 1_000_000 * LOGPROB_SCALE
_MAX_VARINT_BYTES = 10
_MAX_STRING_BYTES = 1 << 24


def quantize_logprob(logprob: float) -> int:
    """The stored integer for a log-probability: round(-logprob * 1024), clamped to [0, max]."""
    if math.isnan(logprob):
        raise RecordEncodeError("a logprob is NaN")
    if logprob >= 0.0:
        return 0
    if logprob == -math.inf:
        return MAX_LOGPROB_Q
    return min(round(-logprob * LOGPROB_SCALE), MAX_LOGPROB_Q)


def dequantize_logprob(q: int) -> float:
    """The float a stored integer stands for (exact: q / 1024 is representable)."""
    return -q / LOGPROB_SCALE if q else 0.0


def _put_varint(out: bytearray, value: int) -> None:
    if value < 0:
        raise RecordEncodeError(f"cannot encode negative integer {value}")
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def _put_bytes(out: bytearray, data: bytes) -> None:
    _put_varint(out, len(data))
    out += data


def encode_output(output: GenerationOutput) -> bytes:
    """The canonical bytes of `output` (see docs/output-format.md)."""
    k = output.top_logprobs
    if not (0 <= k <= MAX_TOP_LOGPROBS):
        raise RecordEncodeError(f"top_logprobs must be in [0, {MAX_TOP_LOGPROBS}], got {k}")
    if len(output.logprobs) != len(output.tokens):
        raise RecordEncodeError("an output needs one logprobs entry per token")
    out = bytearray(MAGIC)
    _put_bytes(out, output.request_id.encode("utf-8"))
    out.append(int(output.finish_reason))
    out.append(k)
    _put_varint(out, output.prompt_token_count)
    _put_varint(out, len(output.tokens))
    for token, entry in zip(output.tokens, output.logprobs, strict=True):
        if entry.token != token:
            raise RecordEncodeError("logprobs entry does not match its token")
        if len(entry.top) != k:
            raise RecordEncodeError(f"each token needs exactly {k} top logprobs")
        _put_varint(out, token)
        _put_varint(out, quantize_logprob(entry.logprob))
        previous: tuple[int, int] | None = None
        for alt_token, alt_logprob in entry.top:
            key = (quantize_logprob(alt_logprob), alt_token)
            if previous is not None and key <= previous:
                raise RecordEncodeError(
                    "top logprobs must be distinct and sorted by logprob descending, then id"
                )
            previous = key
            _put_varint(out, alt_token)
            _put_varint(out, key[0])
    _put_bytes(out, output.text.encode("utf-8"))
    return bytes(out)


def output_hash(encoded: bytes) -> bytes:
    """blake2b-256 of the canonical encoding: the 32 bytes that go on-chain."""
    return blake2_256(encoded)


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise RecordDecodeError("truncated")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def varint(self) -> int:
        value = 0
        for i in range(_MAX_VARINT_BYTES):
            byte = self.byte()
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                if byte == 0 and i > 0:
                    raise RecordDecodeError("non-minimal varint")
                return value
        raise RecordDecodeError("varint too long")

    def string(self) -> str:
        length = self.varint()
        if length > _MAX_STRING_BYTES or self.pos + length > len(self.data):
            raise RecordDecodeError("string length out of range")
        raw = self.data[self.pos : self.pos + length]
        self.pos += length
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RecordDecodeError("string is not valid UTF-8") from exc


def decode_output(data: bytes) -> GenerationOutput:
    """Parse canonical bytes back into a record; anything non-canonical is `RecordDecodeError`."""
    if data[: len(MAGIC)] != MAGIC:
        raise RecordDecodeError("bad magic or unsupported version")
    reader = _Reader(data)
    reader.pos = len(MAGIC)
    request_id = reader.string()
    if not request_id:
        raise RecordDecodeError("empty request id")
    try:
        finish = FinishReason(reader.byte())
    except ValueError as exc:
        raise RecordDecodeError("unknown finish reason") from exc
    k = reader.byte()
    if k > MAX_TOP_LOGPROBS:
        raise RecordDecodeError(f"top_logprobs {k} > {MAX_TOP_LOGPROBS}")
    prompt_count = reader.varint()
    count = reader.varint()
    # Each token takes at least 2 + 2k bytes: reject absurd counts before allocating.
    if count * (2 + 2 * k) > len(data) - reader.pos:
        raise RecordDecodeError("token count exceeds the data")
    tokens: list[int] = []
    entries: list[TokenLogprobs] = []
    for _ in range(count):
        token = reader.varint()
        q = reader.varint()
        if q > MAX_LOGPROB_Q:
            raise RecordDecodeError("logprob out of range")
        top: list[tuple[int, float]] = []
        previous: tuple[int, int] | None = None
        for _ in range(k):
            alt = reader.varint()
            alt_q = reader.varint()
            if alt_q > MAX_LOGPROB_Q:
                raise RecordDecodeError("logprob out of range")
            if previous is not None and (alt_q, alt) <= previous:
                raise RecordDecodeError("top logprobs not in canonical order")
            previous = (alt_q, alt)
            top.append((alt, dequantize_logprob(alt_q)))
        tokens.append(token)
        entries.append(TokenLogprobs(token, dequantize_logprob(q), tuple(top)))
    text = reader.string()
    if reader.pos != len(data):
        raise RecordDecodeError("trailing bytes")
    return GenerationOutput(
        request_id=RecordId(request_id),
        prompt_token_count=prompt_count,
        tokens=tuple(tokens),
        text=text,
        logprobs=tuple(entries),
        finish_reason=finish,
        top_logprobs=k,
    )


def _float32(value: float) -> bytes:
    if not math.isfinite(value):
        raise RecordEncodeError("an embedding value is not finite")
    packed = struct.pack("<f", value + 0.0)  # + 0.0 turns -0.0 into 0.0
    if packed == b"\x00\x00\x00\x80":
        packed = b"\x00\x00\x00\x00"
    if not math.isfinite(struct.unpack("<f", packed)[0]):
        raise RecordEncodeError(f"embedding value {value} overflows float32")
    return packed


def encode_embedding(output: EmbeddingOutput) -> bytes:
    """The canonical bytes of an embedding record (values rounded to float32)."""
    if not 1 <= len(output.vector) <= MAX_EMBEDDING_DIMENSION:
        raise RecordEncodeError(
            f"an embedding needs 1..{MAX_EMBEDDING_DIMENSION} values, got {len(output.vector)}"
        )
    out = bytearray(EMBEDDING_MAGIC)
    _put_bytes(out, output.request_id.encode("utf-8"))
    out.append(_FLAG_TRUNCATED if output.truncated else 0)
    _put_varint(out, output.prompt_token_count)
    _put_varint(out, len(output.vector))
    for value in output.vector:
        out += _float32(value)
    return bytes(out)


def decode_embedding(data: bytes) -> EmbeddingOutput:
    """Parse an embedding record; anything non-canonical is `RecordDecodeError`."""
    if data[: len(EMBEDDING_MAGIC)] != EMBEDDING_MAGIC:
        raise RecordDecodeError("bad magic or unsupported version")
    reader = _Reader(data)
    reader.pos = len(EMBEDDING_MAGIC)
    request_id = reader.string()
    if not request_id:
        raise RecordDecodeError("empty request id")
    flags = reader.byte()
    if flags & ~_FLAG_TRUNCATED:
        raise RecordDecodeError("unknown flags")
    prompt_count = reader.varint()
    dimension = reader.varint()
    if not 1 <= dimension <= MAX_EMBEDDING_DIMENSION:
        raise RecordDecodeError(f"dimension {dimension} out of range")
    body = data[reader.pos :]
    if len(body) != 4 * dimension:
        raise RecordDecodeError("vector length does not match the dimension")
    values = struct.unpack(f"<{dimension}f", body)
    for raw, value in zip(struct.iter_unpack("<I", body), values, strict=True):
        if not math.isfinite(value):
            raise RecordDecodeError("non-finite value")
        if raw[0] == 0x80000000:
            raise RecordDecodeError("negative zero")
    return EmbeddingOutput(
        request_id=RecordId(request_id),
        prompt_token_count=prompt_count,
        vector=tuple(values),
        truncated=bool(flags & _FLAG_TRUNCATED),
    )


def encode_record(record: OutputRecord) -> bytes:
    """The canonical bytes of a text or an embedding record."""
    if isinstance(record, EmbeddingOutput):
        return encode_embedding(record)
    return encode_output(record)


def decode_record(data: bytes) -> OutputRecord:
    """Parse either kind of record, told apart by its magic."""
    if data[: len(EMBEDDING_MAGIC)] == EMBEDDING_MAGIC:
        return decode_embedding(data)
    return decode_output(data)
