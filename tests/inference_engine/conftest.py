"""Fixtures: tiny random-weight models built once per session and loaded on the CPU.

The helpers live here rather than in an importable module: this directory is not a package
(an `__init__.py` here would make it shadow the real `inference_engine` package under pytest's
default import mode), so tests reach them through fixtures (`model_builder`, `config_editor`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from inference_engine import EngineConfig, LoadedModel, load_model

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "a model that came from a stranger must be loaded safely",
    "validators re-run the model teacher forced and compare logprobs",
    "hello world, hello chain, hello inference engine",
    "numbers 0123456789 and punctuation .,;:!? are tokens too",
]
EOS = "<|endoftext|>"


def build_tokenizer(directory: Path, vocab_size: int = 320) -> int:
    """Train a byte-level BPE tokenizer on a tiny corpus; save tokenizer.json; return its size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS * 4, trainer=trainer)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(directory / "tokenizer.json"))
    return int(tokenizer.get_vocab_size())


def build_model(
    directory: Path,
    kind: str = "gpt2",
    *,
    seed: int = 0,
    tokenizer: bool = True,
    vocab_size: int = 320,
    layers: int = 2,
    hidden: int = 32,
) -> Path:
    """Save a random-weight GPT-2 or Llama model (safetensors) and optionally a tokenizer."""
    import torch
    import transformers

    directory.mkdir(parents=True, exist_ok=True)
    if tokenizer:
        vocab_size = build_tokenizer(directory, vocab_size)
    eos = 0  # the special token is trained first, so it gets id 0
    if kind == "gpt2":
        config: transformers.PretrainedConfig = transformers.GPT2Config(
            vocab_size=vocab_size,
            n_positions=256,
            n_embd=hidden,
            n_layer=layers,
            n_head=4,
            bos_token_id=eos,
            eos_token_id=eos,
        )
        cls: type[transformers.PreTrainedModel] = transformers.GPT2LMHeadModel
    elif kind == "llama":
        config = transformers.LlamaConfig(
            vocab_size=vocab_size,
            hidden_size=hidden,
            intermediate_size=hidden * 2,
            num_hidden_layers=layers,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=256,
            bos_token_id=eos,
            eos_token_id=eos,
            pad_token_id=None,
        )
        cls = transformers.LlamaForCausalLM
    else:
        raise ValueError(kind)
    torch.manual_seed(seed)
    model = cls(config)
    # Random init gives near-uniform logits; widen them so greedy choices are clear-cut.
    with torch.no_grad():
        for param in model.parameters():
            param.mul_(4.0)
    model.save_pretrained(str(directory), safe_serialization=True)
    return directory


def edit_config(directory: Path, **changes: object) -> None:
    path = directory / "config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))


@pytest.fixture(scope="session")
def model_builder() -> Callable[..., Path]:
    """`build_model(directory, kind, seed=..., tokenizer=...)` for tests that need a fresh dir."""
    return build_model


@pytest.fixture(scope="session")
def config_editor() -> Callable[..., None]:
    """`edit_config(directory, **changes)`: rewrite keys of a model's config.json."""
    return edit_config


@pytest.fixture(scope="session", autouse=True)
def _quiet_transformers() -> Iterator[None]:
    import transformers

    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    yield


@pytest.fixture(scope="session")
def gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("gpt2"), "gpt2", seed=1)


@pytest.fixture(scope="session")
def llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("llama"), "llama", seed=2)


@pytest.fixture(scope="session")
def other_gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Same architecture and tokenizer as gpt2_dir, different weights."""
    return build_model(tmp_path_factory.mktemp("gpt2-other"), "gpt2", seed=99)


@pytest.fixture(scope="session")
def cpu() -> EngineConfig:
    return EngineConfig(device="cpu")


@pytest.fixture(scope="session")
def gpt2(gpt2_dir: Path, cpu: EngineConfig) -> LoadedModel:
    return load_model(gpt2_dir, cpu)


@pytest.fixture(scope="session")
def llama(llama_dir: Path, cpu: EngineConfig) -> LoadedModel:
    return load_model(llama_dir, cpu)


@pytest.fixture(scope="session")
def other_gpt2(other_gpt2_dir: Path, cpu: EngineConfig) -> LoadedModel:
    return load_model(other_gpt2_dir, cpu)


@pytest.fixture(scope="session", params=["gpt2", "llama"])
def model(request: pytest.FixtureRequest) -> LoadedModel:
    """Each test using this runs on both the GPT-2 and the Llama-style model."""
    loaded: LoadedModel = request.getfixturevalue(request.param)
    return loaded
