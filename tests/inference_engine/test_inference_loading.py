"""Safe loading: hostile directories are refused with typed errors before anything is opened."""

from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from inference_engine import (
    EngineConfig,
    GenerationRequest,
    InferenceError,
    InsufficientMemoryError,
    InvalidRequestError,
    ModelLoadError,
    NoTokenizerError,
    PickleWeightsRefusedError,
    RemoteCodeRefusedError,
    RequestId,
    SamplingParams,
    UnknownArchitectureRefusedError,
    UnsafeModelError,
    estimate_memory,
    generate_batch,
    inspect_model_dir,
    load_model,
    select_placement,
)


class _Hostile:
    """Unpickling this creates the file at `marker` (standing in for arbitrary code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_hostile_pickle_payload_is_real(tmp_path: Path) -> None:
    """Control: the payload used below really does create its marker when unpickled."""
    marker = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(_Hostile(marker))).close()
    assert marker.exists()


@pytest.mark.parametrize("name", ["pytorch_model.bin", "model.pt", "w.pth", "x.pkl", "o.ckpt"])
def test_pickle_files_refused_without_being_opened(
    gpt2_dir: Path, tmp_path: Path, name: str
) -> None:
    directory = _copy(gpt2_dir, tmp_path / "m")
    marker = tmp_path / "pwned"
    (directory / name).write_bytes(pickle.dumps(_Hostile(marker)))
    with pytest.raises(PickleWeightsRefusedError) as info:
        load_model(directory, EngineConfig(device="cpu"))
    assert "pickle" in str(info.value)
    assert name in str(info.value)
    assert isinstance(info.value, UnsafeModelError)
    assert not marker.exists()


def test_pickle_only_directory_refused(gpt2_dir: Path, tmp_path: Path) -> None:
    directory = tmp_path / "m"
    directory.mkdir()
    shutil.copy(gpt2_dir / "config.json", directory)
    marker = tmp_path / "pwned"
    (directory / "pytorch_model.bin").write_bytes(pickle.dumps(_Hostile(marker)))
    with pytest.raises(PickleWeightsRefusedError):
        inspect_model_dir(directory)
    assert not marker.exists()


def test_auto_map_refused(
    gpt2_dir: Path, tmp_path: Path, config_editor: Callable[..., None]
) -> None:
    directory = _copy(gpt2_dir, tmp_path / "m")
    config_editor(directory, auto_map={"AutoModelForCausalLM": "modeling_evil.EvilModel"})
    with pytest.raises(RemoteCodeRefusedError, match="auto_map"):
        load_model(directory, EngineConfig(device="cpu"))


def test_trust_remote_code_and_tokenizer_auto_map_refused(
    gpt2_dir: Path, tmp_path: Path, config_editor: Callable[..., None]
) -> None:
    one = _copy(gpt2_dir, tmp_path / "one")
    config_editor(one, trust_remote_code=True)
    with pytest.raises(RemoteCodeRefusedError, match="trust_remote_code"):
        inspect_model_dir(one)
    two = _copy(gpt2_dir, tmp_path / "two")
    (two / "tokenizer_config.json").write_text(
        json.dumps({"auto_map": {"AutoTokenizer": ["evil.Tok", None]}})
    )
    with pytest.raises(RemoteCodeRefusedError, match=r"tokenizer_config\.json"):
        inspect_model_dir(two)
    three = _copy(gpt2_dir, tmp_path / "three")
    (three / "modeling_evil.py").write_text("raise SystemExit('ran')\n")
    with pytest.raises(RemoteCodeRefusedError):
        inspect_model_dir(three)


def test_unknown_architectures_refused(
    gpt2_dir: Path, tmp_path: Path, config_editor: Callable[..., None]
) -> None:
    one = _copy(gpt2_dir, tmp_path / "one")
    config_editor(one, model_type="evil_net")
    with pytest.raises(UnknownArchitectureRefusedError, match="evil_net"):
        inspect_model_dir(one)
    two = _copy(gpt2_dir, tmp_path / "two")
    config_editor(two, architectures=["GPT2ForSequenceClassification"])
    with pytest.raises(UnknownArchitectureRefusedError, match="GPT2ForSequenceClassification"):
        inspect_model_dir(two)


def test_malformed_directories(gpt2_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not a directory"):
        inspect_model_dir(tmp_path / "absent")
    no_config = _copy(gpt2_dir, tmp_path / "no-config")
    (no_config / "config.json").unlink()
    with pytest.raises(ModelLoadError, match=r"config\.json missing"):
        inspect_model_dir(no_config)
    no_weights = _copy(gpt2_dir, tmp_path / "no-weights")
    (no_weights / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="safetensors"):
        inspect_model_dir(no_weights)
    bad_index = _copy(gpt2_dir, tmp_path / "bad-index")
    (bad_index / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"w": "../elsewhere.safetensors"}})
    )
    with pytest.raises(ModelLoadError, match="shard"):
        inspect_model_dir(bad_index)
    bad_header = _copy(gpt2_dir, tmp_path / "bad-header")
    (bad_header / "model.safetensors").write_bytes(b"\xff" * 8 + b"{}")
    with pytest.raises(ModelLoadError, match="header"):
        load_model(bad_header, EngineConfig(device="cpu"))
    escaping = _copy(gpt2_dir, tmp_path / "escaping")
    outside = tmp_path / "outside.safetensors"
    outside.write_bytes(b"")
    (escaping / "extra.safetensors").symlink_to(outside)
    with pytest.raises(ModelLoadError, match="outside"):
        inspect_model_dir(escaping)


def test_errors_share_one_root() -> None:
    for cls in (
        PickleWeightsRefusedError,
        RemoteCodeRefusedError,
        UnknownArchitectureRefusedError,
        NoTokenizerError,
        InvalidRequestError,
    ):
        assert issubclass(cls, InferenceError)


def test_memory_estimate_matches_the_loaded_model(gpt2_dir: Path) -> None:
    model = load_model(gpt2_dir, EngineConfig(device="cpu"))
    parameters = sum(p.numel() for p in model.module.parameters())  # tied weights once
    estimate = estimate_memory(inspect_model_dir(gpt2_dir), "float32")
    assert estimate.parameters == parameters
    assert estimate.weight_bytes == 4 * parameters
    assert estimate_memory(inspect_model_dir(gpt2_dir), "bfloat16").weight_bytes == 2 * parameters
    # GPT-2 config: 2 layers x (k + v) x 32 hidden x 4 bytes
    assert estimate.kv_bytes_per_token == 2 * 2 * 32 * 4
    assert estimate.total_bytes(4, 100) > estimate.weight_bytes + 4 * 100 * 256
    assert model.memory == estimate


def test_cpu_placement_policy(gpt2_dir: Path) -> None:
    manifest = inspect_model_dir(gpt2_dir)
    placement = select_placement(EngineConfig(device="cpu"), manifest)
    assert (placement.device, placement.dtype) == ("cpu", "float32")
    if not torch.cuda.is_available():
        auto = select_placement(EngineConfig(), manifest)
        assert (auto.device, auto.dtype) == ("cpu", "float32")
        with pytest.raises(InferenceError):
            select_placement(EngineConfig(device="cuda"), manifest)


def test_model_without_tokenizer_takes_token_ids(
    tmp_path: Path, model_builder: Callable[..., Path]
) -> None:
    directory = model_builder(tmp_path / "bare", "llama", tokenizer=False, vocab_size=64)
    model = load_model(directory, EngineConfig(device="cpu"))
    assert model.tokenizer is None
    with pytest.raises(NoTokenizerError):
        generate_batch(model, [GenerationRequest(RequestId("r"), "text")])
    params = SamplingParams(max_tokens=4, ignore_eos=True)
    (out,) = generate_batch(model, [GenerationRequest(RequestId("r"), (1, 2, 3), params)])
    assert len(out.tokens) == 4
    assert out.text == ""
    with pytest.raises(InvalidRequestError, match="vocab"):
        generate_batch(model, [GenerationRequest(RequestId("r"), (64,), params)])


def test_gpu_placement_by_free_memory(gpt2_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The placement policy with simulated GPUs (the logic runs the same without hardware)."""
    manifest = inspect_model_dir(gpt2_dir)
    gib = 1 << 30
    free = {0: 2 * gib, 1: 9 * gib, 2: 5 * gib}
    capability = {0: (9, 0), 1: (7, 5), 2: (8, 0)}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda i: (free[i], 80 * gib))
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda i=0: capability[i])

    auto = select_placement(EngineConfig(), manifest)
    assert (auto.device, auto.dtype) == ("cuda:1", "float16")  # most free; pre-Ampere: fp16
    chosen = select_placement(EngineConfig(device="cuda:2"), manifest)
    assert (chosen.device, chosen.dtype) == ("cuda:2", "bfloat16")
    forced = select_placement(EngineConfig(device="cuda:0", dtype="float32"), manifest)
    assert (forced.device, forced.dtype) == ("cuda:0", "float32")
    with pytest.raises(InvalidRequestError):
        select_placement(EngineConfig(device="cuda:7"), manifest)

    need = estimate_memory(manifest, "float16").total_bytes(16, 2048)
    free.update({0: need // 2, 1: need // 2, 2: need // 2})
    with pytest.raises(InsufficientMemoryError):
        select_placement(EngineConfig(), manifest)
    free[0] = need * 2
    assert select_placement(EngineConfig(), manifest).device == "cuda:0"


def test_concurrent_loads_of_two_models_from_threads(
    tmp_path: Path, model_builder: Callable[..., Path]
) -> None:
    """Two different models load at once from threads, repeatedly, and both are intact.

    transformers patches process-global state in `from_pretrained` (`PreTrainedModel.tie_weights`
    among it); unguarded, overlapping loads left GPT-2's tied `lm_head` on the meta device.
    """
    import threading

    import transformers

    gpt2 = model_builder(tmp_path / "gpt2", "gpt2", seed=5)
    llama = model_builder(tmp_path / "llama", "llama", seed=6)
    tie_weights = transformers.PreTrainedModel.tie_weights
    config = EngineConfig(device="cpu")
    reference = {p: load_model(p, config) for p in (gpt2, llama)}
    errors: list[BaseException] = []
    loaded: list[tuple[Path, object]] = []

    for _ in range(8):
        barrier = threading.Barrier(2)

        def load(path: Path, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                loaded.append((path, load_model(path, config)))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=load, args=(p,)) for p in (gpt2, llama)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    assert len(loaded) == 16
    assert transformers.PreTrainedModel.tie_weights is tie_weights
    for path, model in loaded:
        module = model.module  # type: ignore[attr-defined]
        expected = reference[path].module.state_dict()
        state = module.state_dict()
        assert state.keys() == expected.keys()
        assert all(not t.is_meta and torch.equal(t, expected[k]) for k, t in state.items())
    gpt2_module = next(m for p, m in loaded if p == gpt2).module  # type: ignore[attr-defined]
    assert gpt2_module.lm_head.weight.data_ptr() == gpt2_module.transformer.wte.weight.data_ptr()
