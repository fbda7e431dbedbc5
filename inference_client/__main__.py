"""`infer --model ID --prompt ... --max-tokens N [--json]`: one inference from the command line.

The key comes from `--key-file` / `$INFER_KEY_FILE` or `$INFER_KEY_URI` (never an argument).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys

from substrateinterface import Keypair

from ._client import InferenceClient
from ._config import InferenceClientConfig
from ._errors import InferenceClientError, RequestFailed
from ._keys import load_keypair
from ._types import InferenceResult


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
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = InferenceClientConfig.load(args.config)
        if args.url:
            config = dataclasses.replace(config, chain_url=args.url)
        if args.ipfs_api is not None:
            config = dataclasses.replace(config, ipfs_api_url=args.ipfs_api)
        keypair = load_keypair(args.key_file)
        prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
        result = asyncio.run(_run(config, keypair, args, prompt))
    except RequestFailed as exc:
        _fail(args.json, exc, state=exc.state, request_id=exc.request_id, refund=exc.refund)
        return 3
    except InferenceClientError as exc:
        _fail(args.json, exc)
        return 1
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json.dumps(dataclasses.asdict(result), indent=2))
    else:
        print(result.text)
        print(
            f"request {result.request_id}: {result.prompt_tokens} prompt + "
            f"{result.completion_tokens} completion tokens, cost {result.cost}, "
            f"refund {result.refund} (currency {result.currency_id}), from the {result.source}",
            file=sys.stderr,
        )
    return 0


async def _run(
    config: InferenceClientConfig, keypair: Keypair, args: argparse.Namespace, prompt: str
) -> InferenceResult:
    async with InferenceClient(config, keypair) as client:
        return await client.infer(
            args.model,
            prompt,
            max_tokens=args.max_tokens,
            deadline_blocks=args.deadline_blocks,
            max_price_per_1k_tokens=args.max_price,
        )


def _fail(as_json: bool, exc: Exception, **extra: object) -> None:
    if as_json:
        print(json.dumps({"error": type(exc).__name__, "message": str(exc), **extra}))
    else:
        print(f"infer: {type(exc).__name__}: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
