"""Real tokenizers (a trained BPE with special tokens and a chat template): token counts,
BOS, chat rendering in transformers' sandbox, refusals, and the count a client escrows for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inference_engine import (
    ChatPrompt,
    ChatTemplateError,
    ChatTemplateRefusedError,
    EngineConfig,
    GenerationRequest,
    LoadedModel,
    RequestId,
    SamplingParams,
    UnsafeModelError,
    count_prompt_tokens,
    generate_batch,
    inspect_model_dir,
    load_model,
    load_tokenizer,
    validate,
)
from inference_engine.tiny import BOS, IM_END, IM_START, build_tiny_model

CHAT = ChatPrompt.of(("system", "you are a helpful assistant"), ("user", "hello chain"))


@pytest.fixture(scope="module")
def bos_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("bos"), "llama", seed=5)


@pytest.fixture(scope="module")
def bos_model(bos_dir: Path) -> LoadedModel:
    return load_model(bos_dir, EngineConfig(device="cpu"))


def _template(directory: Path, template: str | None) -> Path:
    path = directory / "tokenizer_config.json"
    config = json.loads(path.read_text())
    if template is None:
        config.pop("chat_template", None)
    else:
        config["chat_template"] = template
    path.write_text(json.dumps(config))
    return directory


def test_text_prompts_get_the_tokenizers_bos_once(bos_model: LoadedModel) -> None:
    assert bos_model.tokenizer is not None
    bos = bos_model.tokenizer.token_id(BOS)
    ids = bos_model.encode_prompt("hello world")
    assert ids[0] == bos and ids.count(bos) == 1
    # token ids are used exactly as given
    assert bos_model.encode_prompt(ids[1:]) == ids[1:]


def test_chat_is_rendered_by_the_template(bos_model: LoadedModel) -> None:
    tokenizer = bos_model.tokenizer
    assert tokenizer is not None
    text = tokenizer.render(CHAT)
    assert text.startswith(f"{BOS}{IM_START}system\nyou are a helpful assistant{IM_END}\n")
    assert text.endswith(f"{IM_START}assistant\n")  # the generation prompt
    ids = bos_model.encode_prompt(CHAT)
    # the template writes BOS itself: no second one is added; specials are single tokens
    assert ids.count(tokenizer.token_id(BOS)) == 1
    assert ids.count(tokenizer.token_id(IM_START)) == 3
    assert ids.count(tokenizer.token_id(IM_END)) == 2
    # special tokens never show in decoded text
    assert IM_START not in bos_model.decode(ids) and "assistant" in bos_model.decode(ids)


def test_chat_generation_validates_and_counts_match_the_client(
    bos_model: LoadedModel, bos_dir: Path
) -> None:
    for prompt in (CHAT, "hello world, hello chain"):
        request = GenerationRequest(
            RequestId("chat-1"), prompt, SamplingParams(max_tokens=8, ignore_eos=True)
        )
        (out,) = generate_batch(bos_model, [request])
        assert validate(bos_model, request, out).passed
        # what inference_client escrows for, from the tokenizer files alone
        assert count_prompt_tokens(bos_dir, prompt) == out.prompt_token_count
        if isinstance(prompt, str):
            assert out.prompt_token_count != len(prompt.encode()) + 1


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{% for m in messages %}{{ m.__class__.__init__.__globals__ }}{% endfor %}",
        "{{ messages.append({'role': 'x', 'content': 'y'}) }}",
        "{% set ns = namespace(_secret=1) %}{{ ns }}",
    ],
)
def test_hostile_templates_are_refused_at_inspection(tmp_path: Path, template: str) -> None:
    directory = _template(build_tiny_model(tmp_path / "m", "gpt2"), template)
    with pytest.raises(ChatTemplateRefusedError) as caught:
        inspect_model_dir(directory)
    assert isinstance(caught.value, UnsafeModelError)
    assert str(caught.value).startswith("chat template refused")


def test_a_template_that_rejects_a_chat_is_a_typed_request_error(tmp_path: Path) -> None:
    strict = (
        "{% for m in messages %}{% if m['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}"
        "{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    )
    directory = _template(build_tiny_model(tmp_path / "m", "gpt2"), strict)
    model = load_model(directory, EngineConfig(device="cpu"))  # the probe failure is tolerated
    with pytest.raises(ChatTemplateError, match="System role not supported"):
        model.encode_prompt(CHAT)
    assert model.encode_prompt(ChatPrompt.of(("user", "hi")))


def test_no_template_means_text_only(tmp_path: Path) -> None:
    directory = _template(build_tiny_model(tmp_path / "m", "gpt2"), None)
    model = load_model(directory, EngineConfig(device="cpu"))
    with pytest.raises(ChatTemplateError, match="no chat template"):
        model.encode_prompt(CHAT)


def test_template_file_and_named_templates(tmp_path: Path) -> None:
    directory = _template(
        build_tiny_model(tmp_path / "m", "gpt2"),
        None,
    )
    (directory / "chat_template.jinja").write_text("{% for m in messages %}[{{ m['content'] }}]{% endfor %}")  # fmt: skip
    assert load_tokenizer(directory).render(CHAT) == "[you are a helpful assistant][hello chain]"
    (directory / "chat_template.jinja").unlink()
    _template(directory, None)
    config = json.loads((directory / "tokenizer_config.json").read_text())
    config["chat_template"] = [
        {"name": "tool_use", "template": "tools"},
        {"name": "default", "template": "{{ messages[-1]['content'] }}"},
    ]
    (directory / "tokenizer_config.json").write_text(json.dumps(config))
    assert load_tokenizer(directory).render(CHAT) == "hello chain"


def test_end_of_turn_from_generation_config(tmp_path: Path) -> None:
    """Chat models list their end-of-turn token as an EOS id (Qwen: [<|endoftext|>, <|im_end|>])."""
    directory = build_tiny_model(tmp_path / "m", "qwen3")
    config = json.loads((directory / "generation_config.json").read_text())
    tokenizer = load_tokenizer(directory)
    im_end = tokenizer.token_id(IM_END)
    assert im_end is not None
    config["eos_token_id"] = [0, im_end]
    (directory / "generation_config.json").write_text(json.dumps(config))
    model = load_model(directory, EngineConfig(device="cpu"))
    assert model.eos_token_ids == {0, im_end}
    # special tokens in text are single ids, and never reach the visible text
    ids = model.encode_prompt(f"hello{IM_END}world")
    assert im_end in ids and model.decode(ids) == "helloworld"
