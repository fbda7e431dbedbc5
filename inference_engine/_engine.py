"""The async engine: a bounded queue, one worker thread per model, dynamic batching.

Text models serve `generate`, embedding models `embed`; `validate` takes either kind of record.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import threading
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, overload

from ._config import EngineConfig
from ._embedding import EmbeddingJob, prepare_embedding, run_embeddings, validate_embedding
from ._errors import (
    EngineClosedError,
    EngineOverloadedError,
    GenerationCancelledError,
    GenerationTimeoutError,
    InferenceError,
    InvalidRequestError,
    WrongTaskError,
)
from ._loader import LoadedModel, load_model
from ._runner import SequenceJob, prepare, run_batch, validate
from ._types import (
    EmbeddingOutput,
    EmbeddingRequest,
    GenerationOutput,
    GenerationRequest,
    ModelTask,
    OutputRecord,
    TokenLogprobs,
    ValidationReport,
)

_Kind = Literal["generate", "validate", "embed"]

__all__ = ["EngineStats", "InferenceEngine"]

if TYPE_CHECKING:
    from ._stream import StreamEvent


@dataclass(frozen=True, slots=True)
class EngineStats:
    """Counters since the engine started: batches run, requests in them, the largest batch."""

    batches: int
    requests: int
    largest_batch: int
    validations: int


@dataclass(eq=False)
class _Work:
    kind: _Kind
    request: GenerationRequest | EmbeddingRequest
    output: OutputRecord | None
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    deadline: float
    cancelled: threading.Event = field(default_factory=threading.Event)
    on_token: Callable[[TokenLogprobs], None] | None = None

    def interrupt(self, closing: threading.Event) -> InferenceError | None:
        if closing.is_set():
            return EngineClosedError("engine closed during generation")
        if self.cancelled.is_set():
            return GenerationCancelledError(f"request {self.request.request_id} cancelled")
        if time.monotonic() > self.deadline:
            return GenerationTimeoutError(f"request {self.request.request_id} timed out")
        return None

    def resolve(self, result: Any = None, error: BaseException | None = None) -> None:
        def settle() -> None:
            if self.future.done():
                return
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(result)

        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            self.loop.call_soon_threadsafe(settle)


class InferenceEngine:
    """Serves one loaded model: `generate` (text models), `embed` (embedding models) and
    `validate` from asyncio, model work in a thread.

    Concurrent `generate` calls are batched: the worker takes the first waiting request, then
    up to `max_batch_size - 1` more that arrive within `max_wait_s`, and runs them together
    (left padding, attention masks, each row's own sampling parameters and seed). Requests stop
    at token boundaries when cancelled, timed out or when the engine closes. Concurrent
    `embed` calls are batched the same way (one right-padded encoder pass).

    Use as an async context manager; `close()` is idempotent.
    """

    def __init__(self, model: LoadedModel, config: EngineConfig | None = None) -> None:
        self._model = model
        self._config = config or EngineConfig()
        self._queue: queue.Queue[_Work | None] = queue.Queue(maxsize=self._config.max_queue)
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending: set[_Work] = set()
        self._close_task: asyncio.Task[None] | None = None
        self._lock = threading.Lock()
        self._batches = 0
        self._requests = 0
        self._largest = 0
        self._validations = 0

    @classmethod
    async def open(
        cls, path: str | Path, config: EngineConfig | None = None, *, model_id: str | None = None
    ) -> Self:
        """Load a model directory off the event loop and return a started engine."""
        model = await asyncio.to_thread(load_model, path, config, model_id=model_id)
        engine = cls(model, config)
        engine.start()
        return engine

    @property
    def model(self) -> LoadedModel:
        return self._model

    @property
    def config(self) -> EngineConfig:
        return self._config

    @property
    def stats(self) -> EngineStats:
        with self._lock:
            return EngineStats(self._batches, self._requests, self._largest, self._validations)

    def start(self) -> None:
        """Start the worker thread (idempotent)."""
        if self._closing.is_set():
            raise EngineClosedError("engine is closed")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._worker, name=f"inference-{self._model.model_id}", daemon=True
            )
            self._thread.start()

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def generate(
        self, request: GenerationRequest, *, timeout_s: float | None = None
    ) -> GenerationOutput:
        """Generate for one request; batched with whatever else is waiting."""
        result = await self._submit("generate", request, None, timeout_s)
        assert isinstance(result, GenerationOutput)
        return result

    def stream(
        self, request: GenerationRequest, *, timeout_s: float | None = None
    ) -> AsyncGenerator[StreamEvent, None]:
        """Generate for one request, yielding each token (with its logprobs and new text) as
        it is produced, then the finished `GenerationOutput`; batched like `generate`."""
        from ._stream import stream_generate

        return stream_generate(self, request, timeout_s)

    async def embed(
        self, request: EmbeddingRequest, *, timeout_s: float | None = None
    ) -> EmbeddingOutput:
        """Embed one input; batched with whatever else is waiting."""
        result = await self._submit("embed", request, None, timeout_s)
        assert isinstance(result, EmbeddingOutput)
        return result

    @overload
    async def validate(
        self,
        request: GenerationRequest,
        output: GenerationOutput,
        *,
        timeout_s: float | None = None,
    ) -> ValidationReport: ...

    @overload
    async def validate(
        self, request: EmbeddingRequest, output: EmbeddingOutput, *, timeout_s: float | None = None
    ) -> ValidationReport: ...

    async def validate(
        self,
        request: GenerationRequest | EmbeddingRequest,
        output: OutputRecord,
        *,
        timeout_s: float | None = None,
    ) -> ValidationReport:
        """Check another machine's record: a text output is re-run teacher-forced and its
        logprobs compared; an embedding is recomputed and compared by cosine."""
        if isinstance(request, EmbeddingRequest) != isinstance(output, EmbeddingOutput):
            raise InvalidRequestError("the request and the output are of different kinds")
        result = await self._submit("validate", request, output, timeout_s)
        assert isinstance(result, ValidationReport)
        return result

    async def _submit(
        self,
        kind: _Kind,
        request: GenerationRequest | EmbeddingRequest,
        output: OutputRecord | None,
        timeout_s: float | None,
        on_token: Callable[[TokenLogprobs], None] | None = None,
    ) -> object:
        embedding = isinstance(request, EmbeddingRequest)
        if embedding != (self._model.task is ModelTask.EMBEDDING):
            raise WrongTaskError(
                f"model {self._model.model_id} is a {self._model.task.value} model"
            )
        if self._closing.is_set() or self._thread is None:
            raise EngineClosedError("engine is not running (use `async with` or start())")
        timeout = self._config.request_timeout_s if timeout_s is None else timeout_s
        loop = asyncio.get_running_loop()
        work = _Work(kind, request, output, loop.create_future(), loop, time.monotonic() + timeout)
        work.on_token = on_token
        try:
            self._queue.put_nowait(work)
        except queue.Full:
            raise EngineOverloadedError(
                f"{self._config.max_queue} requests already waiting"
            ) from None
        self._pending.add(work)
        try:
            async with asyncio.timeout(timeout):
                return await work.future
        except TimeoutError:
            work.cancelled.set()
            raise GenerationTimeoutError(f"request {request.request_id} timed out") from None
        except asyncio.CancelledError:
            work.cancelled.set()
            raise
        finally:
            self._pending.discard(work)

    async def close(self) -> None:
        """Stop accepting work, stop running requests at the next token, join the worker."""
        if self._close_task is None:
            self._close_task = asyncio.create_task(self._close())
        await asyncio.shield(self._close_task)

    async def _close(self) -> None:
        self._closing.set()
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item.resolve(error=EngineClosedError("engine closed before the request ran"))
        if self._thread is not None:
            self._queue.put_nowait(None)
            await asyncio.to_thread(self._thread.join)
        for work in list(self._pending):
            if not work.future.done():
                work.future.set_exception(EngineClosedError("engine closed"))

    # -- worker thread -------------------------------------------------------------------

    def _collect(self, first: _Work) -> tuple[list[_Work], bool]:
        """The first request plus whatever arrives within max_wait_s, up to the batch size."""
        batch = [first]
        wait_until = time.monotonic() + self._config.max_wait_s
        while len(batch) < self._config.max_batch_size:
            remaining = wait_until - time.monotonic()
            try:
                if remaining > 0:
                    item = self._queue.get(timeout=remaining)
                else:
                    item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _worker(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._collect(first)
            live = []
            for work in batch:
                error = work.interrupt(self._closing)
                if error is not None:
                    work.resolve(error=error)
                else:
                    live.append(work)
            self._run_generations([w for w in live if w.kind == "generate"])
            self._run_embeddings([w for w in live if w.kind == "embed"])
            for work in live:
                if work.kind == "validate":
                    self._run_validation(work)

    def _run_embeddings(self, works: list[_Work]) -> None:
        jobs: list[tuple[_Work, EmbeddingJob]] = []
        for work in works:
            assert isinstance(work.request, EmbeddingRequest)
            try:
                jobs.append((work, prepare_embedding(self._model, work.request)))
            except InferenceError as exc:
                work.resolve(error=exc)
        if not jobs:
            return
        with self._lock:
            self._batches += 1
            self._requests += len(jobs)
            self._largest = max(self._largest, len(jobs))
        try:
            outputs = run_embeddings(self._model, [job for _, job in jobs])
        except InferenceError as exc:
            for work, _ in jobs:
                work.resolve(error=exc)
            return
        except Exception as exc:
            failure = InferenceError(f"model failure: {exc}")
            failure.__cause__ = exc
            for work, _ in jobs:
                work.resolve(error=failure)
            return
        for (work, _), output in zip(jobs, outputs, strict=True):
            work.resolve(output)

    def _run_generations(self, works: list[_Work]) -> None:
        jobs: list[tuple[_Work, SequenceJob]] = []
        for work in works:
            assert isinstance(work.request, GenerationRequest)
            try:
                job = prepare(self._model, work.request)
            except InferenceError as exc:
                work.resolve(error=exc)
                continue
            job.interrupt = functools.partial(work.interrupt, self._closing)
            job.on_token = work.on_token
            jobs.append((work, job))
        if not jobs:
            return
        with self._lock:
            self._batches += 1
            self._requests += len(jobs)
            self._largest = max(self._largest, len(jobs))
        try:
            run_batch(self._model, [job for _, job in jobs])
        except Exception as exc:
            failure = InferenceError(f"model failure: {exc}")
            failure.__cause__ = exc
            for work, _ in jobs:
                work.resolve(error=failure)
            return
        for work, job in jobs:
            if job.error is not None:
                work.resolve(error=job.error)
            else:
                work.resolve(job.output())

    def _run_validation(self, work: _Work) -> None:
        assert work.output is not None
        with self._lock:
            self._validations += 1
        try:
            if isinstance(work.output, EmbeddingOutput):
                assert isinstance(work.request, EmbeddingRequest)
                report = validate_embedding(
                    self._model,
                    work.request,
                    work.output,
                    tolerance=self._config.embedding_tolerance,
                    norm_tolerance=self._config.embedding_norm_tolerance,
                )
            else:
                assert isinstance(work.request, GenerationRequest)
                assert isinstance(work.output, GenerationOutput)
                report = validate(
                    self._model,
                    work.request,
                    work.output,
                    tolerance=self._config.validation_tolerance,
                    token_tolerance=self._config.token_tolerance,
                )
        except InferenceError as exc:
            work.resolve(error=exc)
        except Exception as exc:
            failure = InferenceError(f"model failure: {exc}")
            failure.__cause__ = exc
            work.resolve(error=failure)
        else:
            work.resolve(report)
