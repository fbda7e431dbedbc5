"""`infer --model ID --prompt ... --max-tokens N [--json]`: one inference from the command line.

The key comes from `--key-file` / `$INFER_KEY_FILE` or `$INFER_KEY_URI` (never an argument).
The request's stages go to stderr as they happen (one updating line on a terminal, plain lines
when piped; `--quiet` silences them); stdout holds only the result.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import sys
import time
from collections.abc import Awaitable
from typing import Any, TextIO, TypeVar

from substrateinterface import Keypair

from ._client import InferenceClient
from ._config import InferenceClientConfig
from ._errors import InferenceClientError, RequestFailed
from ._keys import load_keypair
from ._stages import Stage
from ._types import InferenceResult

T = TypeVar("T")
#: A connection still pending after this long gets a visible "waiting for ..." line
WAITING_AFTER_S = 2.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infer", description="Run one inference on the chain and print its verified output."
    )
    parser.add_argument("--model", required=True, help="model id (0x + 64 hex digits)")
    parser.add_argument("--prompt", required=True, help="the prompt text ('-' reads stdin)")
    parser.add_argument("--max-tokens", type=int, required=True, help="most tokens to generate")
    parser.add_argument("--max-price", type=int, help="max price per 1k tokens (default: current)")
    parser.add_argument("--deadline-blocks", type=int, help="blocks the executor gets")
    parser.add_argument("--config", help="TOML settings ($INFER_CONFIG)")
    parser.add_argument("--url", help="node WebSocket URL (overrides chain_url)")
    parser.add_argument("--ipfs-api", help="Kubo RPC API URL (overrides ipfs_api_url)")
    parser.add_argument("--key-file", help="keystore file ($INFER_KEY_FILE); else $INFER_KEY_URI")
    parser.add_argument(
        "--tokenizer",
        help="the model's directory (tokenizer.json suffices): escrow its exact prompt tokens",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--plaintext",
        action="store_true",
        help="send the prompt and get the output unsealed, readable by anyone (public models)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "--stream",
        action="store_true",
        help="the direct path: print tokens as a warm executor produces them (payment channel)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["gateway"]:  # `infer gateway --port 8000`: the direct path's local API
        from inference_gateway.__main__ import main as gateway_main

        return gateway_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        config = InferenceClientConfig.load(
            args.config, flags={"chain_url": args.url or None, "ipfs_api_url": args.ipfs_api}
        )
        keypair = load_keypair(args.key_file)
        prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
        status = None if args.quiet else StatusLine(sys.stderr)
        try:
            result = asyncio.run(_run(config, keypair, args, prompt, status))
        finally:
            if status is not None:
                status.finish()
    except RequestFailed as exc:
        _fail(args.json, exc, state=exc.state, request_id=exc.request_id, refund=exc.refund)
        return 3
    except InferenceClientError as exc:
        _fail(args.json, exc)
        return 1
    except KeyboardInterrupt:
        return 130
    if isinstance(result, _Streamed):
        return 0
    if args.json:
        print(json.dumps(dataclasses.asdict(result), indent=2))
    else:
        # an embedding model's result is its vector
        print(json.dumps(list(result.embedding)) if result.embedding else result.text)
        print(
            f"request {result.request_id}: {result.prompt_tokens} prompt + "
            f"{result.completion_tokens} completion tokens, cost {result.cost}, "
            f"refund {result.refund} (currency {result.currency_id}), from the {result.source}",
            file=sys.stderr,
        )
    return 0


async def _run(
    config: InferenceClientConfig,
    keypair: Keypair,
    args: argparse.Namespace,
    prompt: str,
    status: StatusLine | None,
) -> InferenceResult | _Streamed:
    client = InferenceClient(config, keypair)
    if args.tokenizer:
        client.use_tokenizer(args.model, args.tokenizer)
    if args.stream:
        return await _stream(client, args, prompt)
    try:
        waiting = (
            f"waiting for the node at {config.chain_url} (it accepted the connection but has "
            f"not answered yet; giving up after {config.connect_timeout_s:g} s: connect_timeout_s)"
        )
        await _announce_if_slow(client.connect(), waiting, status)
        ticker = None if status is None else asyncio.create_task(status.tick())
        try:
            return await client.infer(
                args.model,
                prompt,
                max_tokens=args.max_tokens,
                deadline_blocks=args.deadline_blocks,
                max_price_per_1k_tokens=args.max_price,
                on_stage=None if status is None else status.stage,
                plaintext=args.plaintext,
            )
        finally:
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
    finally:
        await client.close()


async def _stream(client: InferenceClient, args: argparse.Namespace, prompt: str) -> _Streamed:
    """`infer --stream`: tokens to stdout as they arrive; the verified summary to stderr."""
    import os
    from pathlib import Path

    state = (
        Path(os.environ.get("INFER_GATEWAY_STATE", ""))
        if os.environ.get("INFER_GATEWAY_STATE")
        else Path.home() / ".local" / "state" / "genai" / "direct-tickets.json"
    )
    state.parent.mkdir(parents=True, exist_ok=True)
    from inference_gateway import GatewayError

    end: Any = None
    try:
        async for event in client.stream(
            args.model, prompt, max_tokens=args.max_tokens, state_path=state
        ):
            if hasattr(event, "finish_reason"):
                end = event
            else:
                sys.stdout.write(event.text)
                sys.stdout.flush()
    except GatewayError as exc:
        raise InferenceClientError(f"direct path: {exc}") from exc
    finally:
        await client.close()
    sys.stdout.write("\n")
    if end is not None and not args.quiet:
        print(
            f"direct: {end.prompt_tokens} prompt + {end.completion_tokens} completion tokens "
            f"from {end.executor} (ticket {end.nonce}, output 0x{end.output_hash.hex()}; "
            "settled on-chain later)",
            file=sys.stderr,
        )
    return _Streamed()


class _Streamed:
    """Marker: the result was already printed."""


async def _announce_if_slow(
    work: Awaitable[T], message: str, status: StatusLine | None, after: float = WAITING_AFTER_S
) -> T:
    """Await `work`; if it takes longer than `after` seconds, say what we are waiting for."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=after)
    if not done and status is not None:
        status.note(message)
    return await task


class StatusLine:
    """The request's progress on stderr: one line redrawn in place on a terminal (with a
    ticking clock while waiting), one plain line per stage otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self._text = ""
        self._drawn = False

    def note(self, text: str) -> None:
        """A line that stays (a warning, a "waiting for ..." notice)."""
        self._clear()
        self.stream.write(f"infer: {text}\n")
        self.stream.flush()
        self._redraw()

    def stage(self, stage: Stage) -> None:
        line = f"[{stage.total_s:5.1f} s] {stage.describe()}"
        if self.tty:
            self._text = line
            self._redraw()
        else:
            self.stream.write(f"infer: {line}\n")
            self.stream.flush()

    async def tick(self) -> None:
        """On a terminal, keep the clock of the current line moving."""
        if not self.tty:
            return
        while True:
            await asyncio.sleep(0.5)
            self._redraw()

    def _redraw(self) -> None:
        if not self.tty or not self._text:
            return
        waited = time.monotonic() - self.started
        self.stream.write(f"\r\x1b[K{self._text}  (waiting {waited:.0f} s)")
        self.stream.flush()
        self._drawn = True

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self._drawn = False

    def finish(self) -> None:
        """Leave the last stage on screen and end its line."""
        if self._drawn:
            self.stream.write(f"\r\x1b[K{self._text}\n")
            self.stream.flush()
            self._drawn = False


def _fail(as_json: bool, exc: Exception, **extra: object) -> None:
    if as_json:
        print(json.dumps({"error": type(exc).__name__, "message": str(exc), **extra}))
    else:
        print(f"infer: {type(exc).__name__}: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
