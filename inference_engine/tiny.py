"""Tiny random-weight models, for tests, demos and benches (nothing is downloaded).

`build_tiny_model(directory)` saves a GPT-2 or Llama-style model with random weights as
safetensors, with a byte-level BPE tokenizer trained on a few sentences: small enough to build in
a second on a CPU, real enough to exercise loading, generation, validation and caching.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["EOS", "build_tiny_model", "build_tokenizer"]

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


def build_tiny_model(
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
    from ._loader import TRANSFORMERS_LOCK

    with TRANSFORMERS_LOCK:  # construction runs tie_weights, which a concurrent load patches
        torch.manual_seed(seed)
        model = cls(config)
    # Random init gives near-uniform logits; widen them so greedy choices are clear-cut.
    with torch.no_grad():
        for param in model.parameters():
            param.mul_(4.0)
    model.save_pretrained(str(directory), safe_serialization=True)
    return directory
