"""Pure placement logic (device and dtype from what the devices report), on the CPU; the real
GPU path is in test_inference_cuda.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inference_engine import (
    DeviceInfo,
    EngineConfig,
    InsufficientMemoryError,
    InvalidRequestError,
    Placement,
    plan_placement,
    policy_dtype,
)

GB = 1 << 30
CPU = DeviceInfo("cpu", 64 * GB)
A100 = (8, 0)
T4 = (7, 5)


def needs(fp32_bytes: int) -> Callable[[str], int]:
    return lambda dtype: fp32_bytes if dtype == "float32" else fp32_bytes // 2


def plan(device: str, gpus: list[DeviceInfo], size: int, model_type: str = "llama", cpu: DeviceInfo = CPU, dtype: str | None = None) -> Placement:  # fmt: skip
    return plan_placement(
        EngineConfig(device=device, dtype=dtype), cpu, gpus, needs(size), model_type
    )


def test_dtype_policy() -> None:
    ampere, turing = DeviceInfo("cuda:0", GB, A100), DeviceInfo("cuda:0", GB, T4)
    assert policy_dtype(CPU, "llama") == "float32"
    assert policy_dtype(ampere, "llama") == "bfloat16"
    assert policy_dtype(turing, "llama") == "float16"
    # Gemma overflows fp16: fp32 where there is no bf16
    assert policy_dtype(turing, "gemma2") == "float32"
    assert policy_dtype(ampere, "gemma3_text") == "bfloat16"
    # encoders run fp16 on every GPU (closest to a CPU validator's fp32)
    assert policy_dtype(ampere, "bert") == "float16"
    assert policy_dtype(ampere, "llama", "float32") == "float32"


def test_the_gpu_with_most_free_memory_that_fits() -> None:
    gpus = [DeviceInfo("cuda:0", 10 * GB, A100), DeviceInfo("cuda:1", 30 * GB, A100)]
    assert plan("auto", gpus, 8 * GB) == Placement("cuda:1", "bfloat16")
    assert plan("cuda", gpus, 8 * GB) == Placement("cuda:1", "bfloat16")
    assert plan("cuda:0", gpus, 8 * GB) == Placement("cuda:0", "bfloat16")
    # fits only the larger one (bf16 halves the fp32 size: 25 GB < 0.9 * 30 GB)
    assert plan("auto", gpus, 50 * GB) == Placement("cuda:1", "bfloat16")
    with pytest.raises(InsufficientMemoryError, match="no GPU"):
        plan("auto", gpus, 80 * GB)
    with pytest.raises(InsufficientMemoryError, match="no GPU"):
        plan("cuda:0", gpus, 30 * GB)
    with pytest.raises(InvalidRequestError, match="no GPU cuda:7"):
        plan("cuda:7", gpus, GB)


def test_fp32_gemma_on_an_old_gpu_must_fit_in_fp32() -> None:
    gpus = [DeviceInfo("cuda:0", 16 * GB, T4)]
    assert plan("auto", gpus, 8 * GB, "gemma2") == Placement("cuda:0", "float32")
    assert plan("auto", gpus, 16 * GB, "llama") == Placement("cuda:0", "float16")
    with pytest.raises(InsufficientMemoryError):
        plan("auto", gpus, 16 * GB, "gemma2")


def test_cpu_without_gpus() -> None:
    assert plan("auto", [], GB) == Placement("cpu", "float32")
    assert plan("cpu", [DeviceInfo("cuda:0", 80 * GB, A100)], GB) == Placement("cpu", "float32")
    small = DeviceInfo("cpu", 10 * GB)
    # too large for fp32 in the available memory: bf16 halves it
    assert plan("auto", [], 16 * GB, cpu=small) == Placement("cpu", "bfloat16")
    with pytest.raises(InsufficientMemoryError, match="CPU"):
        plan("auto", [], 40 * GB, cpu=small)
    with pytest.raises(InsufficientMemoryError, match="CPU"):
        plan("cpu", [], 16 * GB, cpu=small, dtype="float32")
    with pytest.raises(InsufficientMemoryError, match="CUDA is absent"):
        plan("cuda", [], GB)
    # unknown free memory is not checked
    assert plan("auto", [], 1 << 50, cpu=DeviceInfo("cpu", None)) == Placement("cpu", "float32")
