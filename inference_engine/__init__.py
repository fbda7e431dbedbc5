"""Safe model loading, deterministic generation and teacher-forced validation.

Load a local model directory (safetensors only, allow-listed architectures, no remote code),
serve it through `InferenceEngine` (async, dynamic batching, model work in a worker thread),
encode outputs canonically (`encode_output`, hashed with `output_hash`) and check another
machine's output with `validate`. See docs/inference_engine.md and docs/output-format.md.
"""

from ._config import EngineConfig
from ._distance import LogprobDistance, logprob_distance
from ._encoding import (
    LOGPROB_SCALE,
    decode_output,
    dequantize_logprob,
    encode_output,
    output_hash,
    quantize_logprob,
)
from ._engine import EngineStats, InferenceEngine
from ._errors import (
    EngineClosedError,
    EngineOverloadedError,
    GenerationCancelledError,
    GenerationTimeoutError,
    InferenceError,
    InsufficientMemoryError,
    InvalidRequestError,
    ModelLoadError,
    NoTokenizerError,
    OutputDecodeError,
    PickleWeightsRefusedError,
    RemoteCodeRefusedError,
    UnknownArchitectureRefusedError,
    UnsafeModelError,
)
from ._loader import (
    ALLOWED_ARCHITECTURES,
    TRANSFORMERS_LOCK,
    LoadedModel,
    MemoryEstimate,
    ModelManifest,
    Placement,
    estimate_memory,
    inspect_model_dir,
    load_model,
    select_placement,
)
from ._runner import generate_batch, validate
from ._seed import derive_seed, step_uniform
from ._types import (
    MAX_TOP_LOGPROBS,
    FinishReason,
    GenerationOutput,
    GenerationRequest,
    ModelId,
    RequestId,
    SamplingParams,
    TokenId,
    TokenLogprobs,
    ValidationReport,
)

__all__ = [
    "ALLOWED_ARCHITECTURES",
    "LOGPROB_SCALE",
    "MAX_TOP_LOGPROBS",
    "TRANSFORMERS_LOCK",
    "EngineClosedError",
    "EngineConfig",
    "EngineOverloadedError",
    "EngineStats",
    "FinishReason",
    "GenerationCancelledError",
    "GenerationOutput",
    "GenerationRequest",
    "GenerationTimeoutError",
    "InferenceEngine",
    "InferenceError",
    "InsufficientMemoryError",
    "InvalidRequestError",
    "LoadedModel",
    "LogprobDistance",
    "MemoryEstimate",
    "ModelId",
    "ModelLoadError",
    "ModelManifest",
    "NoTokenizerError",
    "OutputDecodeError",
    "PickleWeightsRefusedError",
    "Placement",
    "RemoteCodeRefusedError",
    "RequestId",
    "SamplingParams",
    "TokenId",
    "TokenLogprobs",
    "UnknownArchitectureRefusedError",
    "UnsafeModelError",
    "ValidationReport",
    "decode_output",
    "dequantize_logprob",
    "derive_seed",
    "encode_output",
    "estimate_memory",
    "generate_batch",
    "inspect_model_dir",
    "load_model",
    "logprob_distance",
    "output_hash",
    "quantize_logprob",
    "select_placement",
    "step_uniform",
    "validate",
]
