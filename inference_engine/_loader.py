"""Safe loading of a local model directory: inspection, memory estimate, placement, loading.

Inspection only reads file names, small JSON files and safetensors headers (and renders the
chat template once, in transformers' sandbox). Pickle-based files are refused by name without
being opened; configs asking for remote code, architectures not on the allow-list and chat
templates the sandbox stops are refused before any library is asked to load anything.
"""

from __future__ import annotations

import json
import logging
import math
import struct
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._chat import PROBE_CHAT, render_chat
from ._config import EngineConfig
from ._errors import (
    ChatTemplateError,
    InferenceError,
    InsufficientMemoryError,
    InvalidRequestError,
    ModelLoadError,
    NoTokenizerError,
    PickleWeightsRefusedError,
    RemoteCodeRefusedError,
    UnknownArchitectureRefusedError,
    WrongTaskError,
)
from ._tokenizer import (
    ModelTokenizer,
    _read_json,
    _token_text,
    load_tokenizer,
    read_chat_template,
)
from ._types import ChatPrompt, ModelId, ModelTask

__all__ = [
    "ALLOWED_ARCHITECTURES",
    "ALLOWED_ENCODERS",
    "FP16_UNSAFE_TYPES",
    "REFUSED_SUFFIXES",
    "TRANSFORMERS_LOCK",
    "DeviceInfo",
    "EmbeddingSpec",
    "LoadedModel",
    "MemoryEstimate",
    "ModelManifest",
    "Placement",
    "estimate_memory",
    "find_remote_code",
    "inspect_model_dir",
    "load_model",
    "plan_placement",
    "policy_dtype",
    "select_placement",
]

log = logging.getLogger("inference_engine")

#: model_type -> the transformers causal-LM class that implements it. SmolLM, TinyLlama and
#: other Llama-architecture models are `llama`; Gemma 3's text-only checkpoints are
#: `gemma3_text` (the multimodal `gemma3` is not a causal LM).
ALLOWED_ARCHITECTURES: Mapping[str, str] = {
    "gpt2": "GPT2LMHeadModel",
    "llama": "LlamaForCausalLM",
    "mistral": "MistralForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
    "qwen3": "Qwen3ForCausalLM",
    "gemma2": "Gemma2ForCausalLM",
    "gemma3_text": "Gemma3ForCausalLM",
    "phi3": "Phi3ForCausalLM",
    "olmo2": "Olmo2ForCausalLM",
}
#: model_type -> the transformers encoder class, for embedding models in the
#: sentence-transformers layout (modules.json: Transformer, Pooling, optional Normalize).
ALLOWED_ENCODERS: Mapping[str, str] = {
    "bert": "BertModel",
    "roberta": "RobertaModel",
    "xlm-roberta": "XLMRobertaModel",
    "distilbert": "DistilBertModel",
}
#: Families whose activations overflow float16 (Gemma's): fp32 on GPUs without bf16.
FP16_UNSAFE_TYPES = frozenset({"gemma2", "gemma3_text"})
_ST_PREFIX = "sentence_transformers.models."
#: sentence-transformers' pooling modes, in the order it concatenates them.
_POOLING_MODES = (
    ("cls", "pooling_mode_cls_token"),
    ("max", "pooling_mode_max_tokens"),
    ("mean", "pooling_mode_mean_tokens"),
    ("mean_sqrt_len", "pooling_mode_mean_sqrt_len_tokens"),
)
_UNSUPPORTED_POOLING = ("pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken")

#: Suffixes of formats that can run code when loaded (pickle and friends). Refused by name.
REFUSED_SUFFIXES = frozenset(
    {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".npy", ".npz", ".joblib", ".dill"}
)
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


@dataclass(frozen=True, slots=True)
class EmbeddingSpec:
    """How an embedding model turns token states into one vector (from its ST modules).

    `pooling` lists the modes in sentence-transformers' concatenation order ("cls", "max",
    "mean", "mean_sqrt_len"); `dimension` is the output size; `max_seq_length` the truncation.
    """

    pooling: tuple[str, ...]
    normalize: bool
    dimension: int
    max_seq_length: int | None


@dataclass(frozen=True, slots=True, eq=False)
class ModelManifest:
    """The result of inspecting a model directory (nothing loaded yet)."""

    path: Path
    model_type: str
    architecture: str
    config: Mapping[str, Any]
    weight_files: tuple[Path, ...]
    tokenizer_file: Path | None
    task: ModelTask = ModelTask.TEXT_GENERATION
    embedding: EmbeddingSpec | None = None
    chat_template: str | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where and in which precision a model runs."""

    device: str
    dtype: str


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """A device as placement sees it: its name ("cpu", "cuda:N"), free memory in bytes (None:
    unknown, not checked) and, for a GPU, its compute capability."""

    name: str
    free_bytes: int | None
    capability: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True, eq=False)
class LoadedModel:
    """A model ready to run. `module` is the torch module (typed loosely: transformers')."""

    model_id: ModelId
    manifest: ModelManifest
    placement: Placement
    memory: MemoryEstimate
    module: Any
    tokenizer: ModelTokenizer | None
    eos_token_ids: frozenset[int]
    vocab_size: int
    max_positions: int
    #: Bytes the loaded weights and buffers really take on `placement.device`.
    loaded_bytes: int = 0

    @property
    def task(self) -> ModelTask:
        return self.manifest.task

    @property
    def embedding(self) -> EmbeddingSpec | None:
        return self.manifest.embedding

    def _check_ids(self, ids: tuple[int, ...]) -> tuple[int, ...]:
        bad = [t for t in ids if t >= self.vocab_size]
        if bad:
            raise InvalidRequestError(f"token id {bad[0]} >= vocab size {self.vocab_size}")
        return ids

    def encode_prompt(self, prompt: str | tuple[int, ...] | ChatPrompt) -> tuple[int, ...]:
        """Token ids for a generation prompt; text and chats need a tokenizer."""
        if self.task is not ModelTask.TEXT_GENERATION:
            raise WrongTaskError(f"model {self.model_id} is an embedding model: use embed")
        if isinstance(prompt, tuple):
            return self._check_ids(prompt)
        if self.tokenizer is None:
            raise NoTokenizerError(f"model {self.model_id} has no tokenizer: give token ids")
        ids, _ = self.tokenizer.encode(prompt)
        return self._check_ids(ids)

    def encode_input(self, text: str | tuple[int, ...]) -> tuple[tuple[int, ...], bool]:
        """Token ids for an embedding input (truncated to `max_seq_length`), and whether it was."""
        if self.task is not ModelTask.EMBEDDING:
            raise WrongTaskError(f"model {self.model_id} is a text model: use generate")
        if isinstance(text, tuple):
            spec = self.embedding
            limit = (spec.max_seq_length if spec else None) or self.max_positions
            return self._check_ids(text[:limit]), len(text) > limit
        if self.tokenizer is None:
            raise NoTokenizerError(f"model {self.model_id} has no tokenizer: give token ids")
        ids, truncated = self.tokenizer.encode(text)
        return self._check_ids(ids), truncated

    def decode(self, tokens: tuple[int, ...] | list[int]) -> str:
        """Text for token ids ("" without a tokenizer)."""
        if self.tokenizer is None:
            return ""
        return self.tokenizer.decode(tokens)


def find_remote_code(obj: Any) -> str | None:
    """The key that asks for code from the model ("auto_map", "trust_remote_code"), anywhere in a
    parsed JSON config; None when there is none."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "auto_map":
                return "auto_map"
            if key == "trust_remote_code" and value:
                return "trust_remote_code"
            found = find_remote_code(value)
            if found:
                return found
    elif isinstance(obj, list):
        for item in obj:
            found = find_remote_code(item)
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
        found = find_remote_code(obj)
        if found:
            raise RemoteCodeRefusedError(f"{entry.name} sets {found}", path=entry)

    model_type = config.get("model_type")
    embedding: EmbeddingSpec | None = None
    if (root / "modules.json").is_file():
        task = ModelTask.EMBEDDING
        if not isinstance(model_type, str) or model_type not in ALLOWED_ENCODERS:
            raise UnknownArchitectureRefusedError(
                f"embedding model_type {model_type!r} is not one of {sorted(ALLOWED_ENCODERS)}"
            )
        architecture = ALLOWED_ENCODERS[model_type]
        embedding = _embedding_spec(root, config)
    else:
        task = ModelTask.TEXT_GENERATION
        if isinstance(model_type, str) and model_type in ALLOWED_ENCODERS:
            raise ModelLoadError(
                f"{model_type} is an encoder: an embedding model needs the sentence-transformers "
                "layout (modules.json with Transformer and Pooling modules)"
            )
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
    chat_template = _checked_chat_template(root) if task is ModelTask.TEXT_GENERATION else None
    return ModelManifest(
        path=root,
        model_type=model_type,
        architecture=architecture,
        config=config,
        weight_files=weight_files,
        tokenizer_file=tokenizer_file if tokenizer_file.is_file() else None,
        task=task,
        embedding=embedding,
        chat_template=chat_template,
    )


def _checked_chat_template(root: Path) -> str | None:
    """The chat template, rendered once on a probe conversation in transformers' sandbox.

    A template the sandbox stops is refused here (`ChatTemplateRefusedError`), before the model
    is registered or loaded. One that only rejects the probe (say it forbids a system turn)
    is kept: it may accept the chats it is given.
    """
    config_path = root / "tokenizer_config.json"
    tokenizer_config = _read_json(config_path) if config_path.is_file() else {}
    if not isinstance(tokenizer_config, dict):
        raise ModelLoadError("tokenizer_config.json is not a JSON object")
    template = read_chat_template(root, tokenizer_config)
    if template is None:
        return None
    tokens = {k: _token_text(v) for k, v in tokenizer_config.items() if k.endswith("_token")}
    try:
        render_chat(template, PROBE_CHAT, tokens)
    except ChatTemplateError as exc:
        log.info("chat template of %s rejects the probe conversation: %s", root, exc)
    return template


def _hidden_size(config: Mapping[str, Any]) -> int:
    size = _config_int(config, "hidden_size", "dim", "n_embd")
    if size is None:
        raise ModelLoadError("config.json has no hidden size")
    return size


def _embedding_spec(root: Path, config: Mapping[str, Any]) -> EmbeddingSpec:
    """Read modules.json and the pooling config: only Transformer, Pooling and Normalize."""
    modules = _read_json(root / "modules.json")
    if not isinstance(modules, list) or not modules:
        raise ModelLoadError("modules.json is not a non-empty list")
    kinds: list[str] = []
    pooling_dir: Path | None = None
    resolved_root = root.resolve()
    for module in modules:
        if not isinstance(module, dict) or not isinstance(module.get("type"), str):
            raise ModelLoadError("modules.json: every module needs a type")
        kind = str(module["type"])
        if not kind.startswith(_ST_PREFIX):
            raise RemoteCodeRefusedError(f"modules.json names a foreign module class {kind!r}")
        kind = kind.removeprefix(_ST_PREFIX)
        path = module.get("path", "")
        if not isinstance(path, str) or not (root / path).resolve().is_relative_to(resolved_root):
            raise ModelLoadError(f"modules.json: module path {path!r} leaves the directory")
        if kind == "Pooling":
            pooling_dir = root / path
        kinds.append(kind)
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise UnknownArchitectureRefusedError(
            f"sentence-transformers modules {kinds} are not supported "
            "(Transformer, Pooling and optionally Normalize)"
        )
    if modules[0].get("path", "") not in ("", "."):
        raise ModelLoadError("modules.json: the Transformer module must be the directory itself")
    assert pooling_dir is not None
    pooling = _read_json(pooling_dir / "config.json") if (pooling_dir / "config.json").is_file() else None  # fmt: skip
    if not isinstance(pooling, dict):
        raise ModelLoadError(f"{pooling_dir.name}/config.json missing or not an object")
    for key in _UNSUPPORTED_POOLING:
        if pooling.get(key):
            raise UnknownArchitectureRefusedError(f"pooling mode {key} is not supported")
    modes = tuple(name for name, key in _POOLING_MODES if pooling.get(key))
    if not modes:
        raise ModelLoadError("the pooling config enables no pooling mode")
    hidden = _hidden_size(config)
    declared = pooling.get("word_embedding_dimension")
    if declared is not None and declared != hidden:
        raise ModelLoadError(f"pooling dimension {declared} differs from hidden size {hidden}")
    max_seq: int | None = None
    st_config = root / "sentence_bert_config.json"
    if st_config.is_file():
        value = _read_json(st_config)
        if isinstance(value, dict) and isinstance(value.get("max_seq_length"), int):
            max_seq = int(value["max_seq_length"])
    positions = _config_int(config, "max_position_embeddings")
    if positions is not None:
        # RoBERTa-style position ids start after the padding index.
        usable = (
            positions - 2 if config.get("model_type") in ("roberta", "xlm-roberta") else positions
        )
        max_seq = min(max_seq or usable, usable)
    return EmbeddingSpec(
        pooling=modes,
        normalize=kinds[-1] == "Normalize",
        dimension=hidden * len(modes),
        max_seq_length=max_seq,
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
    if manifest.task is ModelTask.EMBEDDING:
        kv_per_token = 0  # an encoder keeps no KV cache; its activations fit in the +10%
    return MemoryEstimate(parameters, parameters * width, kv_per_token)


def policy_dtype(device: DeviceInfo, model_type: str | None, requested: str | None = None) -> str:
    """The dtype for a model on a device: the requested one, else fp32 on the CPU; on a GPU,
    fp16 for encoders (embedding models: BERT is fp16-safe, and fp16's 10-bit mantissa keeps
    vectors within the validation tolerance of a CPU's fp32, which bf16's 7 bits may not),
    bf16 for causal LMs on compute capability >= 8, fp16 on older GPUs except for families
    whose activations overflow fp16 (`FP16_UNSAFE_TYPES`, Gemma), which get fp32 there."""
    if requested is not None:
        return requested
    if device.capability is None:
        return "float32"
    if model_type in ALLOWED_ENCODERS:
        return "float16"
    if device.capability[0] >= 8:
        return "bfloat16"
    return "float32" if model_type in FP16_UNSAFE_TYPES else "float16"


def _fits(device: DeviceInfo, needed: int, headroom: float) -> bool:
    return device.free_bytes is None or needed <= device.free_bytes * headroom


def plan_placement(
    config: EngineConfig,
    cpu: DeviceInfo,
    gpus: Sequence[DeviceInfo],
    needed: Callable[[str], int],
    model_type: str | None = None,
) -> Placement:
    """Pure placement: choose a device and dtype from what the devices report.

    `needed(dtype)` is the model's memory at that dtype. With GPUs present ("auto" or "cuda"),
    the GPU with the most free memory among those where the model fits (times
    `memory_headroom`) at its policy dtype; "cuda:N" only GPU N; no GPU fitting is
    `InsufficientMemoryError`. Without GPUs, "auto" runs on the CPU: fp32 when it fits in the
    available memory, else bf16 (half the bytes) when that fits, else `InsufficientMemoryError`.
    """
    if config.device == "cpu" or (config.device == "auto" and not gpus):
        if config.dtype is not None:
            dtypes: tuple[str, ...] = (config.dtype,)
        else:
            dtypes = ("float32", "bfloat16")
        for dtype in dtypes:
            if _fits(cpu, needed(dtype), config.memory_headroom):
                if dtype != dtypes[0]:
                    log.warning(
                        "model does not fit the CPU in %s: loading it in %s", dtypes[0], dtype
                    )
                return Placement("cpu", dtype)
        raise InsufficientMemoryError(
            f"the model needs {needed(dtypes[-1])} bytes; the CPU has {cpu.free_bytes} available"
        )
    if not gpus:
        raise InsufficientMemoryError(f"device {config.device!r} requested but CUDA is absent")
    candidates = list(gpus)
    if config.device.startswith("cuda:"):
        candidates = [g for g in gpus if g.name == config.device]
        if not candidates:
            raise InvalidRequestError(f"no GPU {config.device} ({len(gpus)} present)")
    best: tuple[DeviceInfo, str] | None = None
    for gpu in candidates:
        dtype = policy_dtype(gpu, model_type, config.dtype)
        if not _fits(gpu, needed(dtype), config.memory_headroom):
            continue
        if best is None or (gpu.free_bytes or 0) > (best[0].free_bytes or 0):
            best = (gpu, dtype)
    if best is None:
        names = [g.name for g in candidates]
        raise InsufficientMemoryError(f"no GPU among {names} has room for the model")
    return Placement(best[0].name, best[1])


def _cpu_available() -> int | None:
    """MemAvailable from /proc/meminfo (None where there is none: not checked)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _probe_gpus() -> list[DeviceInfo]:
    import torch

    if not torch.cuda.is_available():
        return []
    gpus = []
    for index in range(torch.cuda.device_count()):
        free, _total = torch.cuda.mem_get_info(index)
        capability = tuple(torch.cuda.get_device_capability(index))
        gpus.append(DeviceInfo(f"cuda:{index}", int(free), (capability[0], capability[1])))
    return gpus


def select_placement(
    config: EngineConfig, manifest: ModelManifest | None = None, *, context_tokens: int = 2048
) -> Placement:
    """Choose the device and dtype for a model (`plan_placement` over the devices present).

    The model's memory is its estimate for `max_batch_size` sequences of `context_tokens`.
    """

    def needed(dtype: str) -> int:
        if manifest is None:
            return 0
        estimate = estimate_memory(manifest, dtype)
        return estimate.total_bytes(config.max_batch_size, context_tokens)

    gpus = [] if config.device == "cpu" else _probe_gpus()
    cpu = DeviceInfo("cpu", _cpu_available())
    model_type = manifest.model_type if manifest is not None else None
    return plan_placement(config, cpu, gpus, needed, model_type)


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

    import torch
    import transformers

    tokenizer = None
    if manifest.tokenizer_file is not None:
        tokenizer = load_tokenizer(manifest.path, manifest.task)
        spec = manifest.embedding
        if spec is not None and spec.max_seq_length is not None:
            tokenizer.tokenizer.enable_truncation(max_length=spec.max_seq_length)

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
        loaded_bytes=module_bytes(module),
    )


def module_bytes(module: Any) -> int:
    """Bytes of a module's parameters and buffers (tied tensors counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for tensor in (*module.parameters(), *module.buffers()):
        key = (tensor.untyped_storage().data_ptr(), tensor.numel())
        if key in seen and key[0] != 0:
            continue
        seen.add(key)
        total += tensor.numel() * tensor.element_size()
    return total


def release_model(model: LoadedModel) -> int:
    """Free a loaded model's memory now (on CUDA too); return the bytes its tensors held.

    Every parameter and buffer is replaced by a storage-less `meta` tensor (no copy to the
    host), so the memory goes even if a stray reference to the model remains (using it then
    fails loudly); then garbage is collected and, when CUDA is in use, the caching allocator
    returns its free blocks to the driver (`torch.cuda.empty_cache()`).
    """
    import gc

    import torch

    freed = module_bytes(model.module)
    with torch.no_grad():
        model.module.to_empty(device="meta")
    gc.collect()
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # type: ignore[no-untyped-call]
        torch.cuda.empty_cache()
    return freed
