"""`register --check`: what a registration would contain, and every safety finding, offline.

Nothing is uploaded and nothing is signed: the CID is computed locally (it equals the one Kubo
gives the directory), the parameter count and memory estimate come from safetensors headers.
"""

from __future__ import annotations

import importlib.util
import json
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import RegistryError

__all__ = ["Finding", "ModelFile", "RegistrationPlan", "plan_registration"]

_HEADER_LIMIT = 100 << 20
_JSON_LIMIT = 4 << 20
_SAFETENSORS_NAMES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16"}


@dataclass(frozen=True, slots=True)
class ModelFile:
    path: str
    size_bytes: int


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason the model would be refused: `kind` is "pickle weights", "remote code",
    "symlink", "architecture" or "unloadable"; `path` the file concerned ("" for the model)."""

    kind: str
    path: str
    message: str


@dataclass(frozen=True, slots=True)
class RegistrationPlan:
    """What `model-registry register` would upload and register for a directory."""

    directory: str
    files: tuple[ModelFile, ...]
    size_bytes: int
    #: The CID the upload will have (CIDv1, the UnixFS profile Kubo uses)
    cid: str
    model_type: str | None
    architecture: str | None
    #: The dtype of the stored weights (the most common one among the tensors)
    dtype: str | None
    parameters: int | None
    #: Weights + KV cache for one 2,048-token sequence, +10% (as the engine estimates it)
    memory_gpu_bytes: int | None
    memory_cpu_bytes: int | None
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.findings


def require_engine() -> None:
    """Model-directory checks use inference_engine's loader, which needs the `[provider]`
    extra (torch, transformers): a `RegistryError` that says so when it is not installed."""
    missing = [name for name in ("torch", "transformers") if importlib.util.find_spec(name) is None]
    if missing:
        raise RegistryError(
            f"checking a model directory needs inference_engine, and {' and '.join(missing)} "
            "is not installed: pip install 'genai-substrate[provider]'"
        )


def plan_registration(path: str | Path) -> RegistrationPlan:
    """Describe `path` as a registration would see it (blocking: reads every byte once)."""
    require_engine()
    import inference_engine as ie  # torch: only when a directory is checked
    from ipfs_store import cid_of_path

    root = Path(path)
    files = tuple(
        ModelFile(str(p.relative_to(root)), p.lstat().st_size)
        for p in sorted(root.rglob("*"))
        if p.is_file() or p.is_symlink()
    )
    findings = list(_scan(root))
    manifest = None
    try:
        manifest = ie.inspect_model_dir(root)
    except ie.UnsafeModelError as exc:
        if not findings:  # the engine refused for a reason the scan above does not know
            path_text = str(getattr(exc, "path", "") or "")
            findings.append(Finding(str(exc.reason), path_text, str(exc)))
    except ie.ModelLoadError as exc:
        findings.append(Finding("unloadable", "", str(exc)))
    parameters = gpu = cpu = None
    model_type = architecture = None
    if manifest is not None:
        model_type, architecture = manifest.model_type, manifest.architecture
        try:
            half = ie.estimate_memory(manifest, "bfloat16")
            full = ie.estimate_memory(manifest, "float32")
            parameters = half.parameters
            gpu, cpu = half.total_bytes(), full.total_bytes()
        except ie.InferenceError as exc:
            findings.append(Finding("unloadable", "", str(exc)))
    return RegistrationPlan(
        directory=str(root),
        files=files,
        size_bytes=sum(f.size_bytes for f in files),
        cid=str(cid_of_path(root).cid),
        model_type=model_type,
        architecture=architecture,
        dtype=_weights_dtype(sorted(root.glob("*.safetensors"))),
        parameters=parameters,
        memory_gpu_bytes=gpu,
        memory_cpu_bytes=cpu,
        findings=tuple(findings),
    )


def _scan(root: Path) -> list[Finding]:
    """Every finding, not only the first: pickle files, Python code, remote-code configs,
    symlinks out of the directory, an architecture outside the allow-list."""
    import inference_engine as ie

    findings: list[Finding] = []
    resolved = root.resolve()
    for entry in sorted(root.rglob("*")):
        name = str(entry.relative_to(root))
        if entry.suffix.lower() in ie.REFUSED_SUFFIXES:
            findings.append(
                Finding("pickle weights", name, f"{name} is a pickle-based format (can run code)")
            )
        if entry.is_symlink() and not entry.resolve().is_relative_to(resolved):
            findings.append(Finding("symlink", name, f"{name} links outside the model directory"))
        elif entry.is_file() and entry.suffix == ".py":
            findings.append(Finding("remote code", name, f"{name} is Python code"))
        elif entry.is_file() and entry.suffix == ".json" and entry.name != "tokenizer.json":
            found = ie.find_remote_code(_read_json(entry))
            if found:
                findings.append(Finding("remote code", name, f"{name} sets {found}"))
    config = _read_json(root / "config.json")
    if isinstance(config, dict):
        model_type = config.get("model_type")
        # a sentence-transformers directory (modules.json) is an embedding model: an encoder
        embedding = (root / "modules.json").is_file()
        allowed = ie.ALLOWED_ENCODERS if embedding else ie.ALLOWED_ARCHITECTURES
        if model_type not in allowed:
            kind = "embedding model_type" if embedding else "model_type"
            findings.append(
                Finding(
                    "architecture",
                    "config.json",
                    f"{kind} {model_type!r} is not one of {sorted(allowed)}",
                )
            )
    return findings


def _read_json(path: Path) -> Any:
    try:
        if not path.is_file() or path.stat().st_size > _JSON_LIMIT:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _weights_dtype(paths: list[Path]) -> str | None:
    counts: Counter[str] = Counter()
    for path in paths:
        try:
            with path.open("rb") as handle:
                prefix = handle.read(8)
                if len(prefix) != 8:
                    continue
                (length,) = struct.unpack("<Q", prefix)
                if length > _HEADER_LIMIT:
                    continue
                header = json.loads(handle.read(length))
        except (OSError, ValueError):
            continue
        if not isinstance(header, dict):
            continue
        for name, info in header.items():
            if name != "__metadata__" and isinstance(info, dict):
                dtype = str(info.get("dtype"))
                counts[_SAFETENSORS_NAMES.get(dtype, dtype.lower())] += 1
    return counts.most_common(1)[0][0] if counts else None
