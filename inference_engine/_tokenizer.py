"""A model's tokenizer with the model's rules: special tokens, chat template, truncation.

One code path for the executor, the validator and the client that escrows for a prompt, so all
three count the same tokens. Reads only `tokenizer.json` (the `tokenizers` library, no
transformers tokenizer classes, no remote code), `tokenizer_config.json` (special tokens, the
chat template), `chat_template.jinja` (newer models keep the template there),
`modules.json` and `sentence_bert_config.json` (an embedding model truncates its input).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._chat import render_chat
from ._errors import ChatTemplateError, InvalidRequestError, ModelLoadError, NoTokenizerError
from ._types import ChatPrompt, ModelTask

__all__ = ["ModelTokenizer", "count_prompt_tokens", "load_tokenizer", "read_chat_template"]

_JSON_LIMIT = 4 << 20
_TEMPLATE_LIMIT = 1 << 20
_SPECIAL_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token")


def _read_json(path: Path) -> Any:
    try:
        size = path.stat().st_size
        if size > _JSON_LIMIT:
            raise ModelLoadError(f"{path.name} is too large ({size} bytes)")
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"cannot read {path.name}: {exc}") from exc


def _token_text(value: Any) -> str | None:
    """A special token as tokenizer_config.json spells it: a string or an AddedToken dict."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return str(value["content"])
    return None


def read_chat_template(directory: Path, tokenizer_config: Mapping[str, Any]) -> str | None:
    """The model's default chat template: `chat_template.jinja`, else tokenizer_config's
    `chat_template` (a string, or a list of named templates of which "default" is used)."""
    jinja = directory / "chat_template.jinja"
    if jinja.is_file():
        if jinja.stat().st_size > _TEMPLATE_LIMIT:
            raise ModelLoadError("chat_template.jinja is too large")
        try:
            return jinja.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelLoadError(f"cannot read chat_template.jinja: {exc}") from exc
    value = tokenizer_config.get("chat_template")
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        named = {t.get("name"): t.get("template") for t in value if isinstance(t, dict)}
        default = named.get("default")
        if isinstance(default, str):
            return default
    raise ModelLoadError("tokenizer_config.json: chat_template is neither a string nor named")


def _max_seq_length(directory: Path, tokenizer_config: Mapping[str, Any]) -> int | None:
    config = directory / "sentence_bert_config.json"
    if config.is_file():
        value = _read_json(config)
        if isinstance(value, dict) and isinstance(value.get("max_seq_length"), int):
            return int(value["max_seq_length"])
    limit = tokenizer_config.get("model_max_length")
    return int(limit) if isinstance(limit, int) and 0 < limit < 1 << 20 else None


@dataclass(frozen=True, slots=True, eq=False)
class ModelTokenizer:
    """`tokenizers.Tokenizer` plus the model's special tokens, template and truncation.

    Text prompts are encoded with the tokenizer's post-processor (`add_special_tokens=True`:
    Llama and Gemma tokenizers put BOS in front, BERT wraps in [CLS] ... [SEP]), as
    transformers encodes them; a chat prompt is rendered by the template, which writes its own
    special tokens, and encoded without adding more (as `apply_chat_template` does). An
    embedding model's input is truncated to `max_length` tokens (special tokens included).
    """

    tokenizer: Any
    task: ModelTask
    special_tokens: Mapping[str, str | None]
    chat_template: str | None
    max_length: int | None

    def render(self, prompt: ChatPrompt) -> str:
        if self.chat_template is None:
            raise ChatTemplateError("the model has no chat template: give the prompt as text")
        return render_chat(self.chat_template, prompt, self.special_tokens)

    def encode(self, prompt: str | ChatPrompt) -> tuple[tuple[int, ...], bool]:
        """Token ids for a prompt, and whether it was truncated."""
        if isinstance(prompt, ChatPrompt):
            if self.task is ModelTask.EMBEDDING:
                raise InvalidRequestError("an embedding model takes text, not a chat")
            encoding = self.tokenizer.encode(self.render(prompt), add_special_tokens=False)
        else:
            encoding = self.tokenizer.encode(prompt, add_special_tokens=True)
        ids = tuple(int(t) for t in encoding.ids)
        if not ids:
            raise InvalidRequestError("prompt tokenizes to nothing")
        return ids, bool(encoding.overflowing)

    def count(self, prompt: str | ChatPrompt) -> int:
        """How many tokens the model will see for `prompt`: what a client escrows for."""
        return len(self.encode(prompt)[0])

    def decode(self, tokens: tuple[int, ...] | list[int]) -> str:
        return str(self.tokenizer.decode(list(tokens), skip_special_tokens=True))

    def token_id(self, token: str | None) -> int | None:
        if token is None:
            return None
        found = self.tokenizer.token_to_id(token)
        return None if found is None else int(found)


def load_tokenizer(directory: str | Path, task: ModelTask | None = None) -> ModelTokenizer:
    """The tokenizer of a model directory (only its tokenizer files are needed).

    `task` defaults to embedding when the directory has `modules.json` (the
    sentence-transformers layout), text generation otherwise.
    """
    root = Path(directory)
    path = root / "tokenizer.json"
    if not path.is_file():
        raise NoTokenizerError(f"{root} has no tokenizer.json")
    import tokenizers

    try:
        tokenizer = tokenizers.Tokenizer.from_file(str(path))
    except Exception as exc:
        raise ModelLoadError(f"tokenizer.json: {exc}") from exc
    config_path = root / "tokenizer_config.json"
    config = _read_json(config_path) if config_path.is_file() else {}
    if not isinstance(config, dict):
        raise ModelLoadError("tokenizer_config.json is not a JSON object")
    if task is None:
        task = (
            ModelTask.EMBEDDING if (root / "modules.json").is_file() else ModelTask.TEXT_GENERATION
        )
    # tokenizer.json may carry padding/truncation settings (MiniLM's pads every input to 128):
    # one request is one sequence, batching pads by itself, and truncation is the model's rule.
    tokenizer.no_padding()
    tokenizer.no_truncation()
    max_length = None
    if task is ModelTask.EMBEDDING:
        max_length = _max_seq_length(root, config)
        if max_length is not None:
            tokenizer.enable_truncation(max_length=max_length)
    special = {key: _token_text(config.get(key)) for key in _SPECIAL_KEYS}
    return ModelTokenizer(
        tokenizer=tokenizer,
        task=task,
        special_tokens=special,
        chat_template=read_chat_template(root, config),
        max_length=max_length,
    )


def count_prompt_tokens(directory: str | Path, prompt: str | ChatPrompt) -> int:
    """Prompt tokens of `prompt` for the model in `directory` (its tokenizer files suffice)."""
    return load_tokenizer(directory).count(prompt)
