"""The dApp client: request an inference on-chain, wait for it, fetch and verify the output.

```python
async with InferenceClient(InferenceClientConfig.load(), load_keypair()) as client:
    result = await client.infer(model_id, "Hello", max_tokens=32)
    print(result.text, result.cost)
```
See docs/client.md.
"""

from ._auth import OUTPUT_DOMAIN, output_request_message, sign_output_request, verify_output_request
from ._client import InferenceClient, RequestProgress
from ._config import InferenceClientConfig
from ._errors import (
    ChainError,
    ClientClosed,
    ConfigError,
    InferenceClientError,
    InputUnavailable,
    KeyLoadError,
    ModelUnavailable,
    NodeUnreachable,
    OutputTampered,
    OutputUnavailable,
    PlaintextRefused,
    RequestFailed,
    RequestRejected,
    RequestTimeout,
)
from ._keys import load_keypair
from ._stages import Stage, StageCallback, StageName
from ._types import (
    InferenceResult,
    ModelId,
    RequestId,
    Settlement,
    SubmittedRequest,
    parse_model_id,
)

__all__ = [
    "OUTPUT_DOMAIN",
    "ChainError",
    "ClientClosed",
    "ConfigError",
    "InferenceClient",
    "InferenceClientConfig",
    "InferenceClientError",
    "InferenceResult",
    "InputUnavailable",
    "KeyLoadError",
    "ModelId",
    "ModelUnavailable",
    "NodeUnreachable",
    "OutputTampered",
    "OutputUnavailable",
    "PlaintextRefused",
    "RequestFailed",
    "RequestId",
    "RequestProgress",
    "RequestRejected",
    "RequestTimeout",
    "Settlement",
    "Stage",
    "StageCallback",
    "StageName",
    "SubmittedRequest",
    "load_keypair",
    "output_request_message",
    "parse_model_id",
    "sign_output_request",
    "verify_output_request",
]
