"""What both sides of the wire agree on, without torch: the canonical output records and their
hash, the signed output request, account-key loading, typed ids, and `fetch_verified_output`.

```python
import protocol

data = protocol.encode_record(record)           # the canonical bytes (docs/output-format.md)
digest = protocol.output_hash(data)             # blake2-256: what goes on-chain
headers = protocol.sign_output_request(keypair, request_id)
output = await protocol.fetch_verified_output(
    session, f"{endpoint}/outputs/{request_id}", digest, max_bytes=1 << 20, headers=headers
)
```
The dApp client, the provider daemon, the gateway and the engine all use this package; it
imports neither torch nor transformers nor redis. See docs/protocol.md.
"""

from ._auth import (
    MAX_CLOCK_SKEW_MS,
    OUTPUT_DOMAIN,
    output_request_message,
    sign_output_request,
    verify_output_request,
)
from ._encoding import (
    EMBEDDING_MAGIC,
    LOGPROB_SCALE,
    MAGIC,
    MAX_EMBEDDING_DIMENSION,
    MAX_LOGPROB_Q,
    decode_embedding,
    decode_output,
    decode_record,
    dequantize_logprob,
    encode_embedding,
    encode_output,
    encode_record,
    output_hash,
    quantize_logprob,
)
from ._errors import (
    InvalidIdError,
    KeyLoadError,
    OutputAuthError,
    OutputFetchError,
    OutputHashMismatch,
    OutputHTTPError,
    OutputRefused,
    OutputTooLarge,
    OutputUnreachable,
    ProtocolError,
    RecordDecodeError,
    RecordEncodeError,
    RecordError,
)
from ._fetch import fetch_verified_output
from ._hashing import blake2_256
from ._ids import AccountId, ModelId, OutputHash, RecordId, RequestId, parse_model_id
from ._keys import load_keypair
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
    "MAX_CLOCK_SKEW_MS",
    "MAX_EMBEDDING_DIMENSION",
    "MAX_LOGPROB_Q",
    "MAX_TOP_LOGPROBS",
    "OUTPUT_DOMAIN",
    "AccountId",
    "EmbeddingOutput",
    "FinishReason",
    "GenerationOutput",
    "InvalidIdError",
    "KeyLoadError",
    "ModelId",
    "OutputAuthError",
    "OutputFetchError",
    "OutputHTTPError",
    "OutputHash",
    "OutputHashMismatch",
    "OutputRecord",
    "OutputRefused",
    "OutputTooLarge",
    "OutputUnreachable",
    "ProtocolError",
    "RecordDecodeError",
    "RecordEncodeError",
    "RecordError",
    "RecordId",
    "RequestId",
    "TokenLogprobs",
    "blake2_256",
    "decode_embedding",
    "decode_output",
    "decode_record",
    "dequantize_logprob",
    "encode_embedding",
    "encode_output",
    "encode_record",
    "fetch_verified_output",
    "load_keypair",
    "output_hash",
    "output_request_message",
    "parse_model_id",
    "quantize_logprob",
    "sign_output_request",
    "verify_output_request",
]
