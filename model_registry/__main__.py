"""`model-registry`: register, update, price, deprecate, list and show models.

The signing key comes from `--key-file` / `$MODEL_REGISTRY_KEY_FILE` (a keystore file) or
`$MODEL_REGISTRY_KEY_URI`; never from an argument, never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar

from substrateinterface import Keypair

import runtime_types

from ._check import RegistrationPlan, plan_registration
from ._config import RegistryConfig
from ._errors import BadModelDir, HostileModel, RegistryConfigError, RegistryError
from ._registry import ModelRegistryClient
from ._types import TASKS, ModelRecord, parse_author_share, parse_currency

ENV_PREFIX = "MODEL_REGISTRY_"
T = TypeVar("T")
#: A connection still pending after this long gets a visible "waiting for ..." line
WAITING_AFTER_S = 2.0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="TOML settings ($MODEL_REGISTRY_CONFIG)")
    common.add_argument("--url", help="node WebSocket URL (overrides chain_url)")
    common.add_argument("--ipfs-api", help="Kubo RPC API URL (overrides ipfs_api_url)")
    common.add_argument(
        "--key-file", help="keystore file ($MODEL_REGISTRY_KEY_FILE); else $MODEL_REGISTRY_KEY_URI"
    )
    common.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    common.add_argument("--quiet", action="store_true", help="no progress bar")

    parser = argparse.ArgumentParser(
        prog="model-registry", description=__import__("model_registry").__doc__
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    register = sub.add_parser("register", parents=[common], help="check, upload and register")
    register.add_argument("model_dir")
    register.add_argument(
        "--check",
        action="store_true",
        help="only show what would be registered and every safety finding (no upload, no key)",
    )
    register.add_argument("--name", help="required unless --check")
    register.add_argument("--task", choices=sorted(TASKS), help="required unless --check")
    register.add_argument("--price", type=int, help="per 1,000 tokens (required unless --check)")
    register.add_argument("--currency", help="currency id, or INFER / USDD (unless --check)")
    register.add_argument(
        "--author-share", default="10%", help="author's cut of each payment (25%%, 0.25)"
    )

    update = sub.add_parser("update", parents=[common], help="upload a new version")
    update.add_argument("model_id")
    update.add_argument("model_dir")

    price = sub.add_parser("set-price", parents=[common], help="change the price")
    price.add_argument("model_id")
    price.add_argument("--price", type=int, required=True, help="per 1,000 tokens")
    price.add_argument("--currency", required=True, help="currency id, or INFER / USDD")

    deprecate = sub.add_parser("deprecate", parents=[common], help="stop new requests")
    deprecate.add_argument("model_id")

    listing = sub.add_parser("list", parents=[common], help="every registered model")
    listing.add_argument("--owner", help="only this owner's models (SS58)")

    show = sub.add_parser("show", parents=[common], help="one model, its versions and providers")
    show.add_argument("model_id")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        config = RegistryConfig.load(
            args.config, flags={"chain_url": args.url, "ipfs_api_url": args.ipfs_api}
        )
        result = asyncio.run(_dispatch(args, config))
    except RegistryError as exc:
        _fail(args.json, exc)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    _print(args, result)
    if isinstance(result, RegistrationPlan) and not result.ok:
        unsafe = any(f.kind != "unloadable" for f in result.findings)
        return HostileModel.exit_code if unsafe else BadModelDir.exit_code
    return 0


async def _dispatch(args: argparse.Namespace, config: RegistryConfig) -> Any:
    command: str = args.command
    if command == "register" and args.check:
        return await asyncio.to_thread(_plan, args.model_dir)
    if command == "register":
        missing = [
            f"--{n}" for n in ("name", "task", "price", "currency") if getattr(args, n) is None
        ]
        if missing:
            raise RegistryConfigError(f"register needs {', '.join(missing)} (or --check)")
    waiting = (
        f"model-registry: waiting for the node at {config.chain_url} (it accepted the "
        f"connection but has not answered yet; giving up after {config.connect_timeout_s:g} s: "
        "connect_timeout_s)"
    )
    if command in ("list", "show"):
        client = ModelRegistryClient(config)
        try:
            await _announce_if_slow(client.connect(), waiting, args.quiet)
            if command == "list":
                return await client.list_models(args.owner)
            return await client.show(args.model_id)
        finally:
            await client.close()
    keypair = _keypair(args.key_file)
    progress = None if args.quiet else ProgressBar(sys.stderr)
    try:
        async with ModelRegistryClient(config) as client:
            actions: dict[str, Callable[[], Awaitable[ModelRecord]]] = {
                "register": lambda: client.register(
                    keypair,
                    args.model_dir,
                    name=args.name,
                    task=args.task,
                    price_per_1k_tokens=_price(args.price),
                    currency_id=parse_currency(args.currency),
                    author_share=parse_author_share(args.author_share),
                    progress=progress,
                ),
                "update": lambda: client.update(keypair, args.model_id, args.model_dir, progress),
                "set-price": lambda: client.set_price(
                    keypair, args.model_id, _price(args.price), parse_currency(args.currency)
                ),
                "deprecate": lambda: client.deprecate(keypair, args.model_id),
            }
            return await actions[command]()
    finally:
        if progress is not None:
            progress.finish()


async def _announce_if_slow(work: Awaitable[T], message: str, quiet: bool) -> T:
    """Await `work`; if it takes over WAITING_AFTER_S, say on stderr what we wait for."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=WAITING_AFTER_S)
    if not done and not quiet:
        print(message, file=sys.stderr, flush=True)
    return await task


def _plan(model_dir: str) -> RegistrationPlan:
    if not Path(model_dir).is_dir():
        raise BadModelDir(f"{model_dir} is not a directory")
    return plan_registration(model_dir)


def _print_plan(plan: RegistrationPlan) -> None:
    mib = 1024 * 1024
    verdict = "would register" if plan.ok else "would be REFUSED"
    print(f"{plan.directory}: {verdict}")
    print(
        f"  {'files':<13} {len(plan.files)}, {plan.size_bytes:,} bytes ({plan.size_bytes / mib:.1f} MiB)"
    )
    for f in plan.files:
        print(f"    {f.path:<40} {f.size_bytes:>14,}")
    arch = f"{plan.architecture} ({plan.model_type})" if plan.architecture else "-"
    print(f"  {'architecture':<13} {arch}")
    print(f"  {'dtype':<13} {plan.dtype or '-'}")
    print(f"  {'parameters':<13} {f'{plan.parameters:,}' if plan.parameters is not None else '-'}")
    if plan.memory_gpu_bytes is not None and plan.memory_cpu_bytes is not None:
        print(
            f"  {'memory':<13} {plan.memory_gpu_bytes / mib:.1f} MiB on a GPU (bfloat16), "
            f"{plan.memory_cpu_bytes / mib:.1f} MiB on a CPU (float32), for one 2,048-token context"
        )
    print(f"  {'CID':<13} {plan.cid}")
    if plan.ok:
        print(f"  {'safety':<13} no findings")
    else:
        print(f"  {'safety':<13} {len(plan.findings)} finding(s):")
        for finding in plan.findings:
            print(f"    \u2718 {finding.kind}: {finding.message}")


def _keypair(key_file: str | None) -> Keypair:
    try:
        return runtime_types.load_keypair(key_file, ENV_PREFIX)
    except runtime_types.KeyLoadError as exc:
        raise RegistryConfigError(str(exc)) from None  # the message never holds the secret


def _price(value: int) -> int:
    if not 0 <= value < 1 << 128:
        raise RegistryConfigError(f"price out of range: {value}")
    return value


def _print(args: argparse.Namespace, result: Any) -> None:
    if isinstance(result, RegistrationPlan) and not args.json:
        _print_plan(result)
        return
    if args.json:
        if isinstance(result, list):
            print(json.dumps([dataclasses.asdict(r) for r in result], indent=2))
        else:
            print(json.dumps(dataclasses.asdict(result), indent=2))
        return
    if args.command == "list":
        for r in result:
            print(
                f"{r.model_id}  v{r.version}  {r.status:<10}  {r.price_per_1k_tokens}/1k "
                f"(currency {r.currency_id})  {r.name}"
            )
        return
    record: ModelRecord = result
    if args.command == "register":
        print(record.model_id)
        return
    if args.command == "show":
        for field in dataclasses.fields(record):
            if field.name not in ("versions", "providers"):
                print(f"{field.name:<20} {getattr(record, field.name)}")
        for v in record.versions:
            print(f"version {v.version:<12} {v.cid}  {v.size_bytes} bytes  block {v.registered_at}")
        print(f"{'providers':<20} {', '.join(record.providers) or '-'}")
        return
    print(f"{record.model_id}  v{record.version}  {record.status}  {record.cid}")


def _fail(as_json: bool, exc: RegistryError) -> None:
    error = getattr(exc, "error", None)
    reason = getattr(exc, "reason", None)
    if as_json:
        payload = {"error": type(exc).__name__, "message": str(exc)}
        if error:
            payload["chain_error"] = error
        if reason:
            payload["reason"] = reason
        print(json.dumps(payload))
    else:
        print(f"model-registry: {type(exc).__name__}: {exc}", file=sys.stderr)


class ProgressBar:
    """A one-line upload progress bar on a stream (redrawn at most 10 times a second)."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self._last = 0.0
        self._drawn = False
        self._state = (0, 0)

    def __call__(self, done: int, total: int | None) -> None:
        self._state = (done, total or 0)
        now = time.monotonic()
        if now - self._last >= 0.1 or (total and done >= total):
            self._last = now
            self._draw()

    def _draw(self) -> None:
        done, total = self._state
        mib = 1024 * 1024
        if total:
            filled = min(self.width, self.width * done // total)
            bar = "#" * filled + "." * (self.width - filled)
            line = f"\ruploading [{bar}] {100 * done // total:3d}% {done / mib:.1f}/{total / mib:.1f} MiB"
        else:
            line = f"\ruploading {done / mib:.1f} MiB"
        self.stream.write(line)
        self.stream.flush()
        self._drawn = True

    def finish(self) -> None:
        if self._drawn:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


if __name__ == "__main__":
    sys.exit(main())
