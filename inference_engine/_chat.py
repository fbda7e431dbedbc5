"""Chat templates, rendered by transformers' own sandboxed Jinja renderer.

A model's chat template is code from a stranger. transformers renders it in Jinja's
`ImmutableSandboxedEnvironment` (no attribute access to internals, no mutation of what the
template is given); we call that renderer (`render_jinja_template`) and never build a Jinja
environment of our own. A template that the sandbox stops (`SecurityError`) is refused with
`ChatTemplateRefusedError`; one that fails otherwise (a syntax error, its own
`raise_exception`, a runaway loop caught as recursion) is `ChatTemplateError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._errors import ChatTemplateError, ChatTemplateRefusedError
from ._types import ChatPrompt

__all__ = ["PROBE_CHAT", "render_chat"]

#: The conversation rendered when a model is inspected: a template that cannot render this is
#: refused before the model is registered or loaded.
PROBE_CHAT = ChatPrompt.of(
    ("system", "You are a helpful assistant."),
    ("user", "Hello!"),
    ("assistant", "Hi, how can I help?"),
    ("user", "Tell me a joke."),
)
_MAX_RENDERED = 1 << 20


def render_chat(
    template: str,
    prompt: ChatPrompt,
    special_tokens: Mapping[str, str | None],
    *,
    add_generation_prompt: bool = True,
) -> str:
    """The text of `prompt` under `template` (in transformers' sandbox).

    `special_tokens` (`bos_token`, `eos_token`, ...) are passed to the template as transformers
    passes them.
    """
    import jinja2
    from transformers.utils.chat_template_utils import render_jinja_template

    messages = [{"role": m.role, "content": m.content} for m in prompt.messages]
    extra: dict[str, Any] = {k: v for k, v in special_tokens.items() if v is not None}
    try:
        rendered: Any = render_jinja_template(
            conversations=[messages],
            chat_template=template,
            add_generation_prompt=add_generation_prompt,
            **extra,
        )
    except jinja2.exceptions.SecurityError as exc:
        raise ChatTemplateRefusedError(f"the sandbox stopped it: {exc}") from exc
    except jinja2.exceptions.TemplateError as exc:
        raise ChatTemplateError(f"chat template failed: {exc}") from exc
    except (RecursionError, MemoryError) as exc:
        raise ChatTemplateRefusedError(f"it ran away ({type(exc).__name__})") from exc
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        raise ChatTemplateError(f"chat template failed: {type(exc).__name__}: {exc}") from exc
    text = str(rendered[0][0])
    if len(text) > _MAX_RENDERED:
        raise ChatTemplateRefusedError(f"it rendered {len(text)} characters")
    if not text:
        raise ChatTemplateError("chat template rendered nothing")
    return text
