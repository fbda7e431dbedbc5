"""Safe loading of a local model directory: inspection, memory estimate, placement, loading.

Inspection only reads file names, small JSON files and safetensors headers. Pickle-based files
are refused by name without being opened; configs asking for remote code and architectures not
on the allow-list are refused before any library is asked to load anything.
"""

from __future__ import annotations

import json
import math
import struct
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._config import EngineConfig
from ._errors import (
    InferenceError,
    InsufficientMemoryError,
    InvalidRequestError,
    ModelLoadError,
    NoTokenizerError,
    PickleWeightsRefusedError,
    RemoteCodeRefusedError,
    UnknownArchitectureRefusedError,
)
from ._types import ModelId

__all__ = [
    "ALLOWED_ARCHITECTURES",
    "TRANSFORMERS_LOCK",
    "LoadedModel",
    "MemoryEstimate",
    "ModelManifest",
    "Placement",
    "estimate_memory",
    "inspect_model_dir",
    "load_model",
    "select_placement",
]

#: model_type -> the transformers class that implements it (causal LMs only).
ALLOWED_ARCHITECTURES: Mapping[str, str] = {
    "gpt2": "GPT2LMHeadModel",
    "llama": "LlamaForCausalLM",
    "mistral": "MistralForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
}

#: Suffixes of formats that can run code when loaded (pickle and friends). Refused by name.
REFUSED_SUFFIXES = frozenset(
    {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".npy", ".npz", ".joblib", ".dill"}
)
_JSON_LIMIT = 4 << 20
_HEADER_LIMIT = 100 << 20
_SAFETENSORS_DTYPE_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
}
_DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
_NO_REMOTE_CODE_SKIP = ("tokenizer.json",)


@dataclass(frozen=True, slots=True)
class MemoryEstimate:
    """What a model needs: weights at the chosen dtype plus KV cache per token of context."""

    parameters: int
    weight_bytes: int
    kv_bytes_per_token: int

    def total_bytes(self, batch_size: int = 1, context_tokens: int = 2048) -> int:
        """Weights plus the KV cache for `batch_size` sequences of `context_tokens`, +10%."""
        kv = self.kv_bytes_per_token * batch_size * context_tokens
        return math.ceil((self.weight_bytes + kv) * 1.1)


@dataclass(frozen=True, slots=True, eq=False)
class ModelManifest:
    """The result of inspecting a model directory (nothing loaded yet)."""

    path: Path
    model_type: str
    architecture: str
    config: Mapping[str, Any]
    weight_files: tuple[Path, ...]
    tokenizer_file: Path | None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where and in which precision a model runs."""

    device: str
    dtype: str


@dataclass(frozen=True, slots=True, eq=False)
class LoadedModel:
    """A model ready to run. `module` is the torch module (typed loosely: transformers')."""

    model_id: ModelId
    manifest: ModelManifest
    placement: Placement
    memory: MemoryEstimate
    module: Any
    tokenizer: Any
    eos_token_ids: frozenset[int]
    vocab_size: int
    max_positions: int

    def encode_prompt(self, prompt: str | tuple[int, ...]) -> tuple[int, ...]:
        """Token ids for a prompt; text needs a tokenizer."""
        if isinstance(prompt, tuple):
            bad = [t for t in prompt if t >= self.vocab_size]
            if bad:
                raise InvalidRequestError(f"token id {bad[0]} >= vocab size {self.vocab_size}")
            return prompt
        if self.tokenizer is None:
            raise NoTokenizerError(f"model {self.model_id} has no tokenizer: give token ids")
        ids = tuple(int(t) for t in self.tokenizer.encode(prompt, add_special_tokens=False).ids)
        if not ids:
            raise InvalidRequestError("prompt tokenizes to nothing")
        return self.encode_prompt(ids)

    def decode(self, tokens: tuple[int, ...] | list[int]) -> str:
        """Text for token ids ("" without a tokenizer)."""
        if self.tokenizer is None:
            return ""
        return str(self.tokenizer.decode(list(tokens), skip_special_tokens=True))


def _read_json(path: Path) -> Any:
    try:
        size = path.stat().st_size
        if size > _JSON_LIMIT:
            raise ModelLoadError(f"{path.name} is too large ({size} bytes)")
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"cannot read {path.name}: {exc}") from exc


def _find_remote_code(obj: Any) -> str | None:
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "auto_map":
                return "auto_map"
            if key == "trust_remote_code" and value:
                return "trust_remote_code"
            found = _find_remote_code(value)
            if found:
                return found
    elif isinstance(obj, list):
        for item in obj:
            found = _find_remote_code(item)
            if found:
                return found
    return None


def inspect_model_dir(path: str | Path) -> ModelManifest:
    """Check a model directory against the safety rules and describe it; loads nothing."""
    root = Path(path)
    if not root.is_dir():
        raise ModelLoadError(f"not a directory: {root}")
    resolved_root = root.resolve()
    entries = sorted(root.rglob("*"))
    for entry in entries:
        if entry.suffix.lower() in REFUSED_SUFFIXES:
            raise PickleWeightsRefusedError(
                f"{entry.relative_to(root)} is a pickle-based format", path=entry
            )
        if entry.is_symlink() and not entry.resolve().is_relative_to(resolved_root):
            raise ModelLoadError(f"{entry.relative_to(root)} links outside the model directory")
        if entry.is_file() and entry.suffix == ".py":
            raise RemoteCodeRefusedError(
                f"{entry.relative_to(root)} is Python code in the model directory", path=entry
            )

    config_path = root / "config.json"
    if not config_path.is_file():
        raise ModelLoadError("config.json missing")
    config = _read_json(config_path)
    if not isinstance(config, dict):
        raise ModelLoadError("config.json is not a JSON object")
    for entry in entries:
        if entry.suffix != ".json" or entry.name in _NO_REMOTE_CODE_SKIP or not entry.is_file():
            continue
        obj = config if entry == config_path else _read_json(entry)
        found = _find_remote_code(obj)
        if found:
            raise RemoteCodeRefusedError(f"{entry.name} sets {found}", path=entry)

    model_type = config.get("model_type")
    if not isinstance(model_type, str) or model_type not in ALLOWED_ARCHITECTURES:
        raise UnknownArchitectureRefusedError(
            f"model_type {model_type!r} is not one of {sorted(ALLOWED_ARCHITECTURES)}"
        )
    architecture = ALLOWED_ARCHITECTURES[model_type]
    declared = config.get("architectures")
    if declared is not None and declared != [architecture]:
        raise UnknownArchitectureRefusedError(
            f"architectures {declared!r} do not match {model_type!r} ({architecture})"
        )

    weight_files = tuple(sorted(p for p in root.glob("*.safetensors") if p.is_file()))
    if not weight_files:
        raise ModelLoadError("no *.safetensors weights in the directory")
    index_path = root / "model.safetensors.index.json"
    if index_path.is_file():
        index = _read_json(index_path)
        weight_map = index.get("weight_map") if isinstance(index, dict) else None
        if not isinstance(weight_map, dict):
            raise ModelLoadError("model.safetensors.index.json has no weight_map")
        names = {p.name for p in weight_files}
        for shard in set(weight_map.values()):
            if not isinstance(shard, str) or Path(shard).name != shard or shard not in names:
                raise ModelLoadError(f"index names a shard that is not here: {shard!r}")

    tokenizer_file = root / "tokenizer.json"
    return ModelManifest(
        path=root,
        model_type=model_type,
        architecture=architecture,
        config=config,
        weight_files=weight_files,
        tokenizer_file=tokenizer_file if tokenizer_file.is_file() else None,
    )


def _safetensors_parameters(path: Path) -> int:
    """Count the elements in a safetensors file from its header alone."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            prefix = handle.read(8)
            if len(prefix) != 8:
                raise ModelLoadError(f"{path.name}: truncated safetensors header")
            (header_len,) = struct.unpack("<Q", prefix)
            if header_len > _HEADER_LIMIT or header_len > size - 8:
                raise ModelLoadError(f"{path.name}: safetensors header length out of range")
            header = json.loads(handle.read(header_len))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{path.name}: unreadable safetensors header: {exc}") from exc
    if not isinstance(header, dict):
        raise ModelLoadError(f"{path.name}: safetensors header is not an object")
    total = 0
    data_len = size - 8 - header_len
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (start, end) = info["dtype"], info["shape"], info["data_offsets"]
            count = math.prod(int(d) for d in shape)
            width = _SAFETENSORS_DTYPE_BYTES[dtype]
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(f"{path.name}: bad tensor entry {name!r}") from exc
        if not (0 <= start <= end <= data_len) or end - start != count * width:
            raise ModelLoadError(f"{path.name}: tensor {name!r} lies outside the file")
        total += count
    return total


def _config_int(config: Mapping[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = config.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return None


def estimate_memory(manifest: ModelManifest, dtype: str) -> MemoryEstimate:
    """Memory the model needs at `dtype`, from safetensors headers and the config."""
    if dtype not in _DTYPE_BYTES:
        raise InvalidRequestError(f"unknown dtype {dtype!r}")
    width = _DTYPE_BYTES[dtype]
    parameters = sum(_safetensors_parameters(p) for p in manifest.weight_files)
    config = manifest.config
    layers = _config_int(config, "num_hidden_layers", "n_layer") or 0
    heads = _config_int(config, "num_attention_heads", "n_head") or 1
    hidden = _config_int(config, "hidden_size", "n_embd") or 0
    kv_heads = _config_int(config, "num_key_value_heads") or heads
    head_dim = _config_int(config, "head_dim") or hidden // heads
    kv_per_token = 2 * layers * kv_heads * head_dim * width
    return MemoryEstimate(parameters, parameters * width, kv_per_token)


def _policy_dtype(device: str, requested: str | None) -> str:
    if requested is not None:
        return requested
    if device == "cpu":
        return "float32"
    import torch

    index = int(device.split(":")[1])
    return "bfloat16" if torch.cuda.get_device_capability(index)[0] >= 8 else "float16"


def select_placement(
    config: EngineConfig, manifest: ModelManifest | None = None, *, context_tokens: int = 2048
) -> Placement:
    """Choose the device and dtype for a model.

    CUDA when present (a chosen GPU, or the one with the most free memory that fits the model's
    estimate), the CPU otherwise; bf16 on GPUs of compute capability 8 or more, fp16 on older
    ones, fp32 on the CPU, unless `config.dtype` says otherwise.
    """
    import torch

    if config.device == "cpu":
        return Placement("cpu", config.dtype or "float32")
    if not torch.cuda.is_available():
        if config.device == "auto":
            return Placement("cpu", config.dtype or "float32")
        raise InsufficientMemoryError(f"device {config.device!r} requested but CUDA is absent")
    if config.device.startswith("cuda:"):
        index = int(config.device.split(":")[1])
        if index >= torch.cuda.device_count():
            raise InvalidRequestError(f"no GPU {index} ({torch.cuda.device_count()} present)")
        candidates = [index]
    else:
        candidates = list(range(torch.cuda.device_count()))
    best: tuple[int, int] | None = None
    for index in candidates:
        free, _total = torch.cuda.mem_get_info(index)
        dtype = _policy_dtype(f"cuda:{index}", config.dtype)
        needed = (
            estimate_memory(manifest, dtype).total_bytes(config.max_batch_size, context_tokens)
            if manifest is not None
            else 0
        )
        if needed <= free * config.memory_headroom and (best is None or free > best[1]):
            best = (index, free)
    if best is None:
        raise InsufficientMemoryError(f"no GPU among {candidates} has room for the model")
    device = f"cuda:{best[0]}"
    return Placement(device, _policy_dtype(device, config.dtype))


def _eos_ids(manifest: ModelManifest) -> frozenset[int]:
    ids: set[int] = set()
    sources: list[Any] = [manifest.config]
    generation_config = manifest.path / "generation_config.json"
    if generation_config.is_file():
        sources.append(_read_json(generation_config))
    for source in sources:
        value = source.get("eos_token_id") if isinstance(source, dict) else None
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list):
            ids.update(v for v in value if isinstance(v, int))
    return frozenset(ids)


#: Held around every transformers model construction in this process. `from_pretrained` (and
#: a model class's `__init__`) patch process-global state while they run: `no_tie_weights()`
#: swaps `PreTrainedModel.tie_weights` for a no-op and puts back whatever it saw on entry,
#: `local_torch_dtype` calls `torch.set_default_dtype`, and `no_init_weights` replaces torch's
#: init functions. Two loads at once save each other's patches as "originals", which leaves
#: `tie_weights` a no-op for good: every later model with tied weights (GPT-2's `lm_head`)
#: keeps a meta tensor and fails with "Cannot copy out of meta tensor". Moving the loaded
#: module to its device and everything after runs outside the lock.
TRANSFORMERS_LOCK = threading.Lock()


def load_model(
    path: str | Path, config: EngineConfig | None = None, *, model_id: str | None = None
) -> LoadedModel:
    """Inspect, place and load a model directory. Blocking: call it off the event loop."""
    config = config or EngineConfig()
    manifest = inspect_model_dir(path)
    placement = select_placement(config, manifest)
    memory = estimate_memory(manifest, placement.dtype)

    import tokenizers
    import torch
    import transformers

    tokenizer = None
    if manifest.tokenizer_file is not None:
        try:
            tokenizer = tokenizers.Tokenizer.from_file(str(manifest.tokenizer_file))
        except Exception as exc:
            raise ModelLoadError(f"tokenizer.json: {exc}") from exc

    model_class = getattr(transformers, manifest.architecture)
    try:
        with TRANSFORMERS_LOCK:
            module = model_class.from_pretrained(
                str(manifest.path),
                local_files_only=True,
                use_safetensors=True,
                trust_remote_code=False,
                dtype=getattr(torch, placement.dtype),
            )
        module = module.to(placement.device).eval()
    except InferenceError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"{manifest.architecture}.from_pretrained failed: {exc}") from exc

    model_config = module.config
    vocab_size = int(model_config.vocab_size)
    max_positions = _config_int(
        manifest.config, "max_position_embeddings", "n_positions", "n_ctx"
    ) or (1 << 20)
    return LoadedModel(
        model_id=ModelId(model_id or manifest.path.name),
        manifest=manifest,
        placement=placement,
        memory=memory,
        module=module,
        tokenizer=tokenizer,
        eos_token_ids=_eos_ids(manifest),
        vocab_size=vocab_size,
        max_positions=max_positions,
    )
