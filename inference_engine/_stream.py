"""Streaming generation: tokens as the batcher produces them, then the canonical record.

`InferenceEngine.stream(request)` submits the request to the same queue and batch loop as
`generate` (so concurrent streams batch together); the worker thread hands each chosen token
to the event loop at once. The final `GenerationOutput` is the one `generate` would return,
built from the same tokens, so its canonical bytes, hash and validation are unchanged.

Text is streamed so that the chunks concatenate to the record's `text` exactly: a chunk holds
back characters that could still become a stop sequence (which the record cuts) and a
trailing incomplete UTF-8 sequence (decoded as U+FFFD until its last byte arrives).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._runner import cut_at_stop
from ._types import GenerationOutput, GenerationRequest, TokenLogprobs

if TYPE_CHECKING:
    from ._engine import InferenceEngine
    from ._loader import LoadedModel

__all__ = ["StreamEvent", "TextStreamer", "TokenChunk", "stream_generate"]


@dataclass(frozen=True, slots=True)
class TokenChunk:
    """One generated token: its position, id and logprobs, its own text (`piece`) and the text
    that became visible with it (`text`, possibly empty). The last chunk may carry only text
    held back until the end (`entry` None)."""

    index: int
    entry: TokenLogprobs | None
    piece: str
    text: str


#: What `InferenceEngine.stream` yields: chunks, then one `GenerationOutput` last.
StreamEvent = TokenChunk | GenerationOutput


class TextStreamer:
    """Incremental visible text of a growing token sequence (stop sequences and UTF-8 aware)."""

    def __init__(self, model: LoadedModel, stop: tuple[str, ...]) -> None:
        self._model = model
        self._stop = stop
        self._hold = max((len(s) for s in stop), default=1) - 1
        self._tokens: list[int] = []
        self.emitted = ""

    def push(self, token: int) -> str:
        """The newly visible text after `token`."""
        self._tokens.append(token)
        decoded = self._model.decode(self._tokens)
        text = cut_at_stop(decoded, self._stop)
        if text == decoded and self._hold:  # no stop yet: one may still be forming at the end
            text = text[: max(0, len(text) - self._hold)]
        text = text.rstrip("\ufffd")
        if not text.startswith(self.emitted) or len(text) <= len(self.emitted):
            return ""
        delta = text[len(self.emitted) :]
        self.emitted = text
        return delta

    def finish(self, final_text: str) -> str:
        """What is left to emit so that everything emitted equals `final_text`."""
        if not final_text.startswith(self.emitted):
            return ""
        delta = final_text[len(self.emitted) :]
        self.emitted = final_text
        return delta


async def stream_generate(
    engine: InferenceEngine, request: GenerationRequest, timeout_s: float | None = None
) -> AsyncGenerator[StreamEvent, None]:
    """Yield a `TokenChunk` per token as it is produced, then the finished output.

    Closing the iterator early cancels the request (it stops at the next token boundary).
    Errors are the engine's (`GenerationTimeoutError`, `EngineClosedError`, ...).
    """
    loop = asyncio.get_running_loop()
    tokens: asyncio.Queue[TokenLogprobs] = asyncio.Queue()

    def on_token(entry: TokenLogprobs) -> None:  # worker thread
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody listens
            loop.call_soon_threadsafe(tokens.put_nowait, entry)

    task = asyncio.ensure_future(
        engine._submit("generate", request, None, timeout_s, on_token=on_token)
    )
    streamer = TextStreamer(engine.model, request.params.stop)
    index = 0
    try:
        while True:
            if tokens.empty():
                getter = asyncio.ensure_future(tokens.get())
                await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await getter
                    if tokens.empty():
                        break  # the request finished (or failed) and every token was yielded
                    continue
                entry = getter.result()
            else:
                entry = tokens.get_nowait()
            piece = engine.model.decode([entry.token])
            yield TokenChunk(index, entry, piece, streamer.push(entry.token))
            index += 1
        result = await task
        assert isinstance(result, GenerationOutput)
        tail = streamer.finish(result.text)
        if tail:
            yield TokenChunk(len(result.tokens), None, "", tail)
        yield result
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
